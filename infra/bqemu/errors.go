package bqemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
	bq "google.golang.org/api/bigquery/v2"
)

// apiError is a BigQuery error: an HTTP status, a reason clients branch on and a message.
// Every deterministic failure is a 4xx so the client never retries it: the Go
// client retries 5xx until its context ends.
type apiError struct {
	code     int
	reason   string
	message  string
	location string
}

func (e *apiError) Error() string { return e.message }

func errInvalid(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "invalid", message: fmt.Sprintf(format, args...)}
}

func errInvalidQuery(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "invalidQuery", message: fmt.Sprintf(format, args...), location: "query"}
}

func errNotFound(format string, args ...any) *apiError {
	return &apiError{code: http.StatusNotFound, reason: "notFound", message: fmt.Sprintf(format, args...)}
}

func errDuplicate(format string, args ...any) *apiError {
	return &apiError{code: http.StatusConflict, reason: "duplicate", message: fmt.Sprintf(format, args...)}
}

func errResourceInUse(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "resourceInUse", message: fmt.Sprintf(format, args...)}
}

// codeForReason gives the HTTP status BigQuery uses for a job error reason.
func codeForReason(reason string) int {
	switch reason {
	case "notFound":
		return http.StatusNotFound
	case "duplicate":
		return http.StatusConflict
	case "accessDenied":
		return http.StatusForbidden
	default:
		return http.StatusBadRequest
	}
}

func statusName(code int) string {
	switch code {
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusPreconditionFailed:
		return "FAILED_PRECONDITION"
	default:
		return "INVALID_ARGUMENT"
	}
}

// asAPIError converts any error into an apiError, mapping DuckDB errors by type.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var de *duckdb.Error
	if errors.As(err, &de) {
		switch de.Type {
		case duckdb.ErrorTypeCatalog:
			if strings.Contains(de.Msg, "already exists") {
				return &apiError{code: http.StatusConflict, reason: "duplicate", message: de.Msg}
			}
			msg, _, _ := strings.Cut(strings.TrimPrefix(de.Msg, "Catalog Error: "), "\n")
			if m := missingFunctionRe.FindStringSubmatch(msg); m != nil {
				return errInvalidQuery("Function not found: %s", m[1])
			}
			return &apiError{code: http.StatusNotFound, reason: "notFound", message: "Not found: " + msg, location: "query"}
		case duckdb.ErrorTypeParser:
			return errInvalidQuery("Syntax error: %s", parserMessage(de.Msg))
		case duckdb.ErrorTypeBinder:
			if m := unknownColumnRe.FindStringSubmatch(de.Msg); m != nil {
				return errInvalidQuery("Unrecognized name: %s", m[1])
			}
			return errInvalidQuery("%s", de.Msg)
		default:
			return errInvalidQuery("%s", de.Msg)
		}
	}
	var ue *unsupportedError
	if errors.As(err, &ue) {
		return errInvalidQuery("Emulator: %s is not supported", ue.construct)
	}
	return errInvalid("%v", err)
}

// missingFunctionRe finds the name in DuckDB's error for an unknown function, which BigQuery
// reports as a 400 invalidQuery rather than a missing resource.
var missingFunctionRe = regexp.MustCompile(`^(?:Scalar |Aggregate |Table |Pragma )?Function with name "?([^"\s]+)"? does not exist`)

// unknownColumnRe finds the name in DuckDB's error for a column no table in scope has.
var unknownColumnRe = regexp.MustCompile(`^Binder Error: Referenced column "([^"]+)" not found`)

// parserMessage rewords a DuckDB parser error the way BigQuery words a syntax error. DuckDB's
// position ("LINE 1: ...") refers to the translated SQL, not the caller's, so it is dropped.
func parserMessage(msg string) string {
	msg, _, _ = strings.Cut(strings.TrimPrefix(msg, "Parser Error: "), "\n")
	switch {
	case msg == "syntax error at end of input":
		return "Unexpected end of script"
	case strings.HasPrefix(msg, "syntax error at or near "):
		return "Unexpected " + strings.TrimPrefix(msg, "syntax error at or near ")
	case msg != "":
		return strings.ToUpper(msg[:1]) + msg[1:]
	}
	return msg
}

// endOfScriptProbe is what explainSyntax appends, on a line of its own, to a statement
// DuckDB's parser refused.
const endOfScriptProbe = "bqemu_end_of_script"

// explainSyntax returns BigQuery's "Syntax error: Unexpected end of script" for DuckDB's
// parser error err when sqlText ended where more had to follow, and err otherwise. DuckDB's
// parser names the last token it read in both cases: "SELECT 1 1" and "SELECT * FROM t
// WHERE" both fail "at or near" their last token. With one more token appended the first
// still fails at the same token, while the second parses, or fails at the token appended.
// Preparing parses and binds without running anything, so the probe writes nothing.
func (s *Server) explainSyntax(ctx context.Context, sqlText string, err error) error {
	var de *duckdb.Error
	if !errors.As(err, &de) || de.Type != duckdb.ErrorTypeParser {
		return err
	}
	stmt, perr := s.db.PrepareContext(context.WithoutCancel(ctx), sqlText+"\n"+endOfScriptProbe)
	if perr == nil {
		stmt.Close()
		return errInvalidQuery("Syntax error: Unexpected end of script")
	}
	var pe *duckdb.Error
	if !errors.As(perr, &pe) {
		return err // the probe could not be run: keep DuckDB's own wording
	}
	if pe.Type != duckdb.ErrorTypeParser || strings.Contains(pe.Msg, `"`+endOfScriptProbe+`"`) {
		return errInvalidQuery("Syntax error: Unexpected end of script")
	}
	return err
}

// errorProto renders an error as a job's errorResult.
func errorProto(err error) *bq.ErrorProto {
	ae := asAPIError(err)
	return &bq.ErrorProto{Reason: ae.reason, Message: ae.message, Location: ae.location}
}

type errorItem struct {
	Message  string `json:"message"`
	Domain   string `json:"domain"`
	Reason   string `json:"reason"`
	Location string `json:"location,omitempty"`
}

type errorBody struct {
	Error struct {
		Code    int         `json:"code"`
		Message string      `json:"message"`
		Status  string      `json:"status"`
		Errors  []errorItem `json:"errors"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	code := ae.code
	if code >= 500 || code == 0 {
		code = http.StatusBadRequest
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = ae.message
	body.Error.Status = statusName(code)
	body.Error.Errors = []errorItem{{Message: ae.message, Domain: "global", Reason: ae.reason, Location: ae.location}}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// errorFromProto turns a stored job errorResult back into an HTTP error for getQueryResults.
func errorFromProto(p *bq.ErrorProto) *apiError {
	return &apiError{code: codeForReason(p.Reason), reason: p.Reason, message: p.Message, location: p.Location}
}
