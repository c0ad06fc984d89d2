package bqemu

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

// upload is a resumable upload session: the job it will run and the bytes received so far.
type upload struct {
	project string
	raw     []byte
	data    bytes.Buffer
}

// upload serves POST/PUT /upload/bigquery/v2/projects/{p}/jobs for multipart uploads and
// for resumable sessions.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("p")
	q := r.URL.Query()
	var v any
	var err error
	switch {
	case q.Get("upload_id") != "":
		v, err = s.uploadChunk(w, r, q.Get("upload_id"))
	case q.Get("uploadType") == "resumable":
		err = s.startResumable(w, r, p)
		if err == nil {
			return
		}
	case q.Get("uploadType") == "multipart":
		v, err = s.uploadMultipart(r, p)
	default:
		err = errInvalid("Unsupported uploadType %q: use multipart or resumable", q.Get("uploadType"))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if v == nil {
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) uploadMultipart(r *http.Request, p string) (any, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return nil, errInvalid("A multipart upload needs a multipart/related Content-Type")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	part, err := mr.NextPart()
	if err != nil {
		return nil, errInvalid("A multipart upload needs the job JSON as its first part: %v", err)
	}
	raw, err := io.ReadAll(part)
	if err != nil {
		return nil, errInvalid("read job part: %v", err)
	}
	var job bq.Job
	if err := json.Unmarshal(raw, &job); err != nil {
		return nil, errInvalid("Invalid JSON payload received: %v", err)
	}
	media, err := mr.NextPart()
	if err != nil {
		return nil, errInvalid("A multipart upload needs the data as its second part: %v", err)
	}
	data, err := io.ReadAll(media)
	if err != nil {
		return nil, errInvalid("read media part: %v", err)
	}
	return s.runJob(r.Context(), p, &job, raw, bytes.NewReader(data))
}

func (s *Server) startResumable(w http.ResponseWriter, r *http.Request, p string) error {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return errInvalid("read job: %v", err)
	}
	var job bq.Job
	if err := json.Unmarshal(raw, &job); err != nil {
		return errInvalid("Invalid JSON payload received: %v", err)
	}
	id := newJobID()
	s.mu.Lock()
	s.uploads[id] = &upload{project: p, raw: raw}
	s.mu.Unlock()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	loc := scheme + "://" + r.Host + "/upload/bigquery/v2/projects/" + p + "/jobs?uploadType=resumable&upload_id=" + id
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	return nil
}

var contentRangeRe = regexp.MustCompile(`^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$`)

func (s *Server) uploadChunk(w http.ResponseWriter, r *http.Request, id string) (any, error) {
	s.mu.Lock()
	up, ok := s.uploads[id]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound("Not found: upload session %s", id)
	}
	chunk, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errInvalid("read upload chunk: %v", err)
	}
	final := true
	if cr := r.Header.Get("Content-Range"); cr != "" {
		m := contentRangeRe.FindStringSubmatch(cr)
		if m == nil {
			return nil, errInvalid("Invalid Content-Range %q", cr)
		}
		if m[3] == "*" {
			final = false
		} else {
			total, _ := strconv.ParseInt(m[3], 10, 64)
			final = int64(up.data.Len()+len(chunk)) >= total
		}
	}
	s.mu.Lock()
	up.data.Write(chunk)
	size := up.data.Len()
	if final {
		delete(s.uploads, id)
	}
	s.mu.Unlock()
	if !final {
		w.Header().Set("Range", "bytes=0-"+strconv.Itoa(size-1))
		if strings.EqualFold(r.Header.Get("X-GUploader-No-308"), "yes") {
			w.Header().Set("X-HTTP-Status-Code-Override", "308")
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusPermanentRedirect)
		}
		return nil, nil
	}
	var job bq.Job
	if err := json.Unmarshal(up.raw, &job); err != nil {
		return nil, errInvalid("Invalid JSON payload received: %v", err)
	}
	return s.runJob(r.Context(), up.project, &job, up.raw, bytes.NewReader(up.data.Bytes()))
}
