package bqemu_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite bigquery-v2-discovery.json from the google.golang.org/api module in use")

// trimDiscovery drops what a client does not need from a discovery document: prose
// (description and enumDescriptions, but not properties or parameters of those names),
// icons, the documentation link and the regional endpoints, which point at Google.
func trimDiscovery(raw []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	named := map[string]bool{"properties": true, "parameters": true, "schemas": true, "resources": true, "methods": true}
	var strip func(v any, parent string) any
	strip = func(v any, parent string) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				if !named[parent] && (k == "description" || k == "enumDescriptions") {
					continue
				}
				out[k] = strip(e, k)
			}
			return out
		case []any:
			for i, e := range x {
				x[i] = strip(e, "")
			}
		}
		return v
	}
	doc = strip(doc, "").(map[string]any)
	for _, k := range []string{"endpoints", "icons", "documentationLink"} {
		delete(doc, k)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TestDiscoveryDocumentIsCurrent checks that the embedded discovery document is the trimmed
// copy of the one google.golang.org/api ships, so that it describes the API the Go client
// speaks; -update rewrites it after a module upgrade.
func TestDiscoveryDocumentIsCurrent(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output()
	if err != nil {
		t.Fatalf("locate google.golang.org/api: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "bigquery", "v2", "bigquery-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := trimDiscovery(raw)
	if err != nil {
		t.Fatalf("trim discovery document: %v", err)
	}
	if *update {
		if err := os.WriteFile("bigquery-v2-discovery.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("bigquery-v2-discovery.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bigquery-v2-discovery.json differs from the google.golang.org/api module in use; run go test ./infra/bqemu -run TestDiscoveryDocumentIsCurrent -update")
	}
}

func TestDiscoveryDocumentPointsAtTheEmulator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/$discovery/rest?version=v2", "/$discovery/rest", "/discovery/v1/apis/bigquery/v2/rest"} {
		resp, err := http.Get("http://" + e.host + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		var doc struct {
			RootURL     string `json:"rootUrl"`
			BaseURL     string `json:"baseUrl"`
			ServicePath string `json:"servicePath"`
			Version     string `json:"version"`
			Resources   map[string]struct {
				Methods map[string]struct {
					Path string `json:"path"`
				} `json:"methods"`
			} `json:"resources"`
		}
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		root := "http://" + e.host + "/"
		if doc.RootURL != root || doc.BaseURL != root+"bigquery/v2/" || doc.ServicePath != "bigquery/v2/" || doc.Version != "v2" {
			t.Errorf("GET %s: rootUrl %q baseUrl %q servicePath %q version %q; want the emulator's %q", path, doc.RootURL, doc.BaseURL, doc.ServicePath, doc.Version, root)
		}
		// The document's paths, joined to its baseUrl, are routes the emulator serves.
		if m := doc.Resources["jobs"].Methods["query"].Path; m != "projects/{+projectId}/queries" {
			t.Errorf("GET %s: jobs.query path %q", path, m)
		}
	}
	resp, err := http.Get("http://" + e.host + "/$discovery/rest?version=v3")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("discovery document of v3: status %d, want 404", resp.StatusCode)
	}
}
