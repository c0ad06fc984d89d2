package bqemu

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

// discoveryDoc is the BigQuery v2 discovery document that google.golang.org/api generates
// its bigquery package from, without its prose (descriptions) and regional endpoints. It is
// regenerated from the module in use by
//
//	go test ./infra/bqemu -run TestDiscoveryDocumentIsCurrent -update
//
// and that test fails when the module and this copy differ.
//
//go:embed bigquery-v2-discovery.json
var discoveryDoc []byte

// Discovery paths: clients built on discovery documents (the bq CLI, the Python API client)
// fetch the document from their endpoint before their first call.
const (
	discoveryPath       = "/$discovery/rest"
	discoveryPathLegacy = "/discovery/v1/apis/bigquery/v2/rest"
)

// serveDiscovery answers with the discovery document, its rootUrl pointing at this
// emulator as the request reached it, so that every method the client builds from it
// calls the emulator.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, errInvalid("The discovery document is read with GET"))
		return
	}
	if v := r.URL.Query().Get("version"); v != "" && v != "v2" {
		writeError(w, errNotFound("Not found: the BigQuery emulator serves the discovery document of version v2, not %s", v))
		return
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(discoveryDoc, &doc); err != nil {
		writeError(w, errInvalid("Emulator internal error: embedded discovery document: %v", err))
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	root := scheme + "://" + r.Host + "/"
	var servicePath string
	_ = json.Unmarshal(doc["servicePath"], &servicePath)
	for k, v := range map[string]string{"rootUrl": root, "mtlsRootUrl": root, "baseUrl": root + servicePath} {
		doc[k], _ = json.Marshal(v)
	}
	writeJSON(w, http.StatusOK, doc)
}
