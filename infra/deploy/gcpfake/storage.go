package gcpfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/genproto/googleapis/type/expr"
)

// startStorage serves fake-gcs-server behind a front that records every request and
// answers what fake-gcs-server does not keep: a bucket's IAM policy (GET and PUT
// b/<bucket>/iam) and its lifecycle (kept from a PATCH and added to a GET of the bucket).
func (f *Fake) startStorage() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	host := ln.Addr().String()
	f.gcs, err = fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", NoListener: true, ExternalURL: "http://" + host, PublicHost: host,
	})
	if err != nil {
		ln.Close()
		return err
	}
	f.gcsURL = "http://" + host
	f.httpSrv = &http.Server{Handler: http.HandlerFunc(f.storage), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.httpSrv.Serve(ln) }()
	return nil
}

// StorageURL is the storage emulator's base URL (what STORAGE_EMULATOR_HOST would say).
func (f *Fake) StorageURL() string { return f.gcsURL }

// jsonPolicy is the JSON API's form of an IAM policy.
type jsonPolicy struct {
	Kind       string        `json:"kind,omitempty"`
	ResourceID string        `json:"resourceId,omitempty"`
	Version    int32         `json:"version,omitempty"`
	Etag       string        `json:"etag,omitempty"`
	Bindings   []jsonBinding `json:"bindings"`
}

type jsonBinding struct {
	Role      string    `json:"role"`
	Members   []string  `json:"members"`
	Condition *jsonExpr `json:"condition,omitempty"`
}

type jsonExpr struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Expression  string `json:"expression"`
}

func toJSONPolicy(resource string, p *iampb.Policy) jsonPolicy {
	out := jsonPolicy{Kind: "storage#policy", ResourceID: resource, Version: p.GetVersion(), Etag: base64.StdEncoding.EncodeToString(p.GetEtag())}
	for _, b := range p.GetBindings() {
		jb := jsonBinding{Role: b.GetRole(), Members: b.GetMembers()}
		if c := b.GetCondition(); c != nil {
			jb.Condition = &jsonExpr{Title: c.GetTitle(), Description: c.GetDescription(), Expression: c.GetExpression()}
		}
		out.Bindings = append(out.Bindings, jb)
	}
	return out
}

func fromJSONPolicy(jp jsonPolicy) (*iampb.Policy, error) {
	etag, err := base64.StdEncoding.DecodeString(jp.Etag)
	if err != nil {
		return nil, fmt.Errorf("etag %q is not base64", jp.Etag)
	}
	p := &iampb.Policy{Version: jp.Version, Etag: etag}
	for _, b := range jp.Bindings {
		pb := &iampb.Binding{Role: b.Role, Members: b.Members}
		if b.Condition != nil {
			pb.Condition = &expr.Expr{Title: b.Condition.Title, Description: b.Condition.Description, Expression: b.Condition.Expression}
		}
		p.Bindings = append(p.Bindings, pb)
	}
	return p, nil
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"errors": []map[string]string{{"message": msg, "reason": map[int]string{403: "forbidden", 404: "notFound", 412: "conditionNotMet", 400: "invalid"}[code]}}}})
}

func (f *Fake) storage(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/storage/v1")
	method := r.Method + " " + path
	bucket, rest, _ := strings.Cut(strings.TrimPrefix(path, "/b/"), "/")
	resource := "projects/_/buckets/" + bucket
	if err := f.record("storage", method, resource); err != nil {
		jsonError(w, http.StatusForbidden, err.Error())
		return
	}
	isBucket := strings.HasPrefix(path, "/b/") && bucket != ""
	switch {
	case isBucket && rest == "iam" && (r.Method == http.MethodGet || r.Method == http.MethodPut):
		if !f.bucketExists(bucket) {
			jsonError(w, http.StatusNotFound, "The specified bucket does not exist.")
			return
		}
		p := f.getPolicy(resource)
		if r.Method == http.MethodPut {
			var jp jsonPolicy
			if err := json.NewDecoder(r.Body).Decode(&jp); err != nil {
				jsonError(w, http.StatusBadRequest, "policy: "+err.Error())
				return
			}
			np, err := fromJSONPolicy(jp)
			if err == nil {
				p, err = f.setPolicy(resource, np)
			}
			if err != nil {
				jsonError(w, http.StatusPreconditionFailed, err.Error())
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(toJSONPolicy(resource, p))
	case isBucket && rest == "" && (r.Method == http.MethodGet || r.Method == http.MethodPatch):
		if r.Method == http.MethodPatch {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				jsonError(w, http.StatusBadRequest, err.Error())
				return
			}
			var patch struct {
				Lifecycle json.RawMessage `json:"lifecycle"`
			}
			if err := json.Unmarshal(body, &patch); err != nil {
				jsonError(w, http.StatusBadRequest, err.Error())
				return
			}
			if patch.Lifecycle != nil && f.bucketExists(bucket) {
				f.mu.Lock()
				f.lifecycle[bucket] = patch.Lifecycle
				f.mu.Unlock()
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec := httptest.NewRecorder()
		f.gcs.HTTPHandler().ServeHTTP(rec, r)
		res := rec.Result()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusOK {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err == nil {
				f.mu.Lock()
				if lc, ok := f.lifecycle[bucket]; ok {
					m["lifecycle"] = json.RawMessage(lc)
				}
				f.mu.Unlock()
				body, _ = json.Marshal(m)
			}
		}
		for k, v := range res.Header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(body)
	default:
		f.gcs.HTTPHandler().ServeHTTP(w, r)
	}
}

func (f *Fake) bucketExists(name string) bool {
	_, err := f.gcs.Backend().GetBucket(name)
	return err == nil
}
