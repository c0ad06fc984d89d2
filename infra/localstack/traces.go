package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// maxSpans and maxTraces bound the trace view's memory: past either, the oldest traces of
// pipeline work go first. A backfill's trace is a date's, about 1,300 spans over its jobs
// (a month's backfill is 30 traces, about 40,000 spans, about 20 MB of heap), so the spans,
// not the traces, are what must be bounded: a five-season backfill would otherwise keep
// every one of its 900 dates, over a million spans. maxOthers bounds the housekeeping
// traces apart (the Pub/Sub client's acknowledgements are a trace each, thousands in a
// backfill), so they never push pipeline work out.
const (
	maxSpans  = 50_000
	maxTraces = 2000
	maxOthers = 500
)

// traceView is the local stack's trace viewer, what Cloud Trace is in production: it keeps
// the spans of the in-process consumers (as an OpenTelemetry span exporter) and those any
// other process sends by OTLP over HTTP (POST /v1/traces: the producer, with
// OTEL_TRACES_EXPORTER=otlp and OTEL_EXPORTER_OTLP_ENDPOINT at this server), and shows one
// trace per page (GET /traces/{trace_id}), the link the status page puts on a cell.
type traceView struct {
	mu     sync.Mutex
	traces map[string][]viewSpan
	spans  int      // the spans in traces
	order  []string // trace ids of pipeline work, oldest first
	others []string // trace ids of housekeeping alone so far, oldest first
}

// viewSpan is a span as the view shows it, from either source.
type viewSpan struct {
	TraceID, SpanID, Parent string
	Service, Name           string
	Start, End              time.Time
	Status                  string
	Attrs                   []string // key=value
	Events                  []string
}

func newTraceView() *traceView { return &traceView{traces: map[string][]viewSpan{}} }

func (v *traceView) add(spans []viewSpan) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range spans {
		old, ok := v.traces[s.TraceID]
		work := isWork(s)
		switch {
		case !ok && work:
			v.order = v.push(v.order, s.TraceID, maxTraces)
		case !ok:
			v.others = v.push(v.others, s.TraceID, maxOthers)
		case work && !slices.ContainsFunc(old, isWork):
			// The trace turns out to carry pipeline work: it moves to the ring kept longer.
			v.others = slices.DeleteFunc(v.others, func(id string) bool { return id == s.TraceID })
			v.order = v.push(v.order, s.TraceID, maxTraces)
		}
		v.traces[s.TraceID] = append(v.traces[s.TraceID], s)
		v.spans++
	}
	// The newest trace of pipeline work stays, whatever its size.
	for v.spans > maxSpans && len(v.order) > 1 {
		v.drop(v.order[0])
		v.order = v.order[1:]
	}
}

// push appends id to ring, dropping the oldest trace beyond limit.
func (v *traceView) push(ring []string, id string, limit int) []string {
	ring = append(ring, id)
	if len(ring) > limit {
		v.drop(ring[0])
		ring = ring[1:]
	}
	return ring
}

// drop forgets a trace's spans.
func (v *traceView) drop(id string) {
	v.spans -= len(v.traces[id])
	delete(v.traces, id)
}

// isWork reports a span of pipeline work: a date enqueued by the producer or a message
// delivered to a consumer.
func isWork(s viewSpan) bool {
	return strings.HasPrefix(s.Name, "enqueue ") || strings.HasPrefix(s.Name, "deliver ")
}

// ExportSpans makes the view an OpenTelemetry span exporter for the in-process consumers.
func (v *traceView) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]viewSpan, 0, len(spans))
	for _, s := range spans {
		vs := viewSpan{TraceID: s.SpanContext().TraceID().String(), SpanID: s.SpanContext().SpanID().String(),
			Name: s.Name(), Start: s.StartTime(), End: s.EndTime(), Status: s.Status().Code.String()}
		if s.Parent().IsValid() {
			vs.Parent = s.Parent().SpanID().String()
		}
		if d := s.Status().Description; d != "" {
			vs.Status += ": " + d
		}
		if svc, ok := s.Resource().Set().Value(semconv.ServiceNameKey); ok {
			vs.Service = svc.String()
		}
		for _, a := range s.Attributes() {
			vs.Attrs = append(vs.Attrs, string(a.Key)+"="+a.Value.String())
		}
		for _, e := range s.Events() {
			vs.Events = append(vs.Events, eventText(e.Name, e.Time.Sub(s.StartTime()), e.Attributes))
		}
		out = append(out, vs)
	}
	v.add(out)
	return nil
}

// Shutdown is part of the span exporter: the view keeps its spans until the stack stops.
func (v *traceView) Shutdown(context.Context) error { return nil }

func eventText(name string, at time.Duration, attrs []attribute.KeyValue) string {
	parts := []string{fmt.Sprintf("+%s %s", at.Round(time.Millisecond), name)}
	for _, a := range attrs {
		parts = append(parts, string(a.Key)+"="+a.Value.String())
	}
	return strings.Join(parts, " ")
}

// handler serves OTLP/HTTP on POST /v1/traces and the pages on GET /traces/.
func (v *traceView) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", v.receive)
	mux.HandleFunc("GET /traces/{$}", v.list)
	mux.HandleFunc("GET /traces/{id}", v.show)
	mux.Handle("GET /{$}", http.RedirectHandler("/traces/", http.StatusFound))
	return mux
}

// receive takes an OTLP export request, protobuf or JSON, as the OTLP exporters send it.
func (v *traceView) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collectortrace.ExportTraceServiceRequest
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/x-protobuf"):
		err = proto.Unmarshal(body, &req)
	case strings.HasPrefix(ct, "application/json"):
		err = protojson.Unmarshal(body, &req)
	default:
		http.Error(w, fmt.Sprintf("Content-Type %q: send OTLP as application/x-protobuf or application/json", ct), http.StatusUnsupportedMediaType)
		return
	}
	if err != nil {
		http.Error(w, "not an OTLP trace export request: "+err.Error(), http.StatusBadRequest)
		return
	}
	var out []viewSpan
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == string(semconv.ServiceNameKey) {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				vs := viewSpan{TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					Service: service, Name: s.GetName(), Start: time.Unix(0, int64(s.GetStartTimeUnixNano())),
					End: time.Unix(0, int64(s.GetEndTimeUnixNano())), Status: otlpStatus[s.GetStatus().GetCode()]}
				if p := s.GetParentSpanId(); len(p) > 0 {
					vs.Parent = hex.EncodeToString(p)
				}
				if m := s.GetStatus().GetMessage(); m != "" {
					vs.Status += ": " + m
				}
				vs.Attrs = otlpAttrs(s.GetAttributes())
				for _, e := range s.GetEvents() {
					at := time.Duration(e.GetTimeUnixNano() - s.GetStartTimeUnixNano())
					vs.Events = append(vs.Events, strings.Join(append([]string{fmt.Sprintf("+%s %s", at.Round(time.Millisecond), e.GetName())},
						otlpAttrs(e.GetAttributes())...), " "))
				}
				out = append(out, vs)
			}
		}
	}
	v.add(out)
	w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
	resp := &collectortrace.ExportTraceServiceResponse{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		b, _ := protojson.Marshal(resp)
		_, _ = w.Write(b)
		return
	}
	b, _ := proto.Marshal(resp)
	_, _ = w.Write(b)
}

// otlpStatus names an OTLP status code as the SDK's codes.Code does.
var otlpStatus = map[tracepb.Status_StatusCode]string{tracepb.Status_STATUS_CODE_UNSET: "Unset",
	tracepb.Status_STATUS_CODE_OK: "Ok", tracepb.Status_STATUS_CODE_ERROR: "Error"}

func otlpAttrs(kvs []*commonpb.KeyValue) []string {
	var out []string
	for _, a := range kvs {
		val := a.GetValue()
		var s string
		switch {
		case val.GetStringValue() != "":
			s = val.GetStringValue()
		default:
			s = strings.Trim(protojson.Format(val), "{}\n ")
			if _, after, ok := strings.Cut(s, ":"); ok {
				s = strings.Trim(strings.TrimSpace(after), `"`)
			}
		}
		out = append(out, a.GetKey()+"="+s)
	}
	return out
}

// traceRow is a span on a trace's page: indented under its parent, placed on the trace's
// time line.
type traceRow struct {
	viewSpan
	Depth                int
	Offset, Duration     string
	LeftPct, WidthPct    float64
	AttrText, EventsText string
}

type traceSummary struct {
	ID, Root, Services string
	Start              string
	Duration           string
	Spans              int
}

func (v *traceView) snapshot(id string) []viewSpan {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.traces[id])
}

func (v *traceView) list(w http.ResponseWriter, _ *http.Request) {
	v.mu.Lock()
	ids, others := slices.Clone(v.order), len(v.others)
	v.mu.Unlock()
	slices.Reverse(ids)
	var rows []traceSummary
	for _, id := range ids[:min(len(ids), 200)] {
		spans := v.snapshot(id)
		start, end, root := bounds(spans)
		services := map[string]bool{}
		for _, s := range spans {
			services[s.Service] = true
		}
		var names []string
		for s := range services {
			names = append(names, s)
		}
		slices.Sort(names)
		rows = append(rows, traceSummary{ID: id, Root: root, Services: strings.Join(names, ", "),
			Start: start.Format("15:04:05.000"), Duration: end.Sub(start).Round(time.Millisecond).String(), Spans: len(spans)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = listPage.Execute(w, struct {
		Traces        []traceSummary
		Total, Others int
	}{rows, len(ids), others})
}

// bounds are a trace's first start, last end and the name of its root (or first) span.
func bounds(spans []viewSpan) (start, end time.Time, root string) {
	hasRoot := false
	for i, s := range spans {
		if i == 0 || s.Start.Before(start) {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
		if root == "" || s.Parent == "" && !hasRoot {
			root, hasRoot = s.Service+": "+s.Name, s.Parent == ""
		}
	}
	return start, end, root
}

func (v *traceView) show(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("id"))
	spans := v.snapshot(id)
	if len(spans) == 0 {
		http.Error(w, fmt.Sprintf("no spans of trace %s here: the view keeps the spans sent while this stack runs (the latest traces, up to %d of them and %d spans); "+
			"a trace recorded before `make up` started, or with telemetry off, is not kept", id, maxTraces, maxSpans), http.StatusNotFound)
		return
	}
	start, end, root := bounds(spans)
	total := end.Sub(start)
	children := map[string][]viewSpan{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	var roots []viewSpan
	for _, s := range spans {
		if s.Parent == "" || !ids[s.Parent] {
			roots = append(roots, s) // a parent not received (yet) makes its children roots
		} else {
			children[s.Parent] = append(children[s.Parent], s)
		}
	}
	byStart := func(a, b viewSpan) int { return a.Start.Compare(b.Start) }
	var rows []traceRow
	var walk func(s viewSpan, depth int)
	walk = func(s viewSpan, depth int) {
		row := traceRow{viewSpan: s, Depth: depth * 16, Offset: s.Start.Sub(start).Round(time.Millisecond).String(),
			Duration: s.End.Sub(s.Start).Round(time.Millisecond).String(),
			AttrText: strings.Join(s.Attrs, "  "), EventsText: strings.Join(s.Events, "\n")}
		if total > 0 {
			row.LeftPct = 100 * float64(s.Start.Sub(start)) / float64(total)
			row.WidthPct = max(0.3, 100*float64(s.End.Sub(s.Start))/float64(total))
		}
		rows = append(rows, row)
		kids := children[s.SpanID]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	slices.SortFunc(roots, byStart)
	for _, s := range roots {
		walk(s, 0)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = tracePage.Execute(w, struct {
		ID, Root, Duration string
		Rows               []traceRow
	}{id, root, total.Round(time.Millisecond).String(), rows})
}

var listPage = template.Must(template.New("list").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>traces</title>
<style>body{font:13px system-ui,sans-serif;margin:1em}td,th{padding:2px 8px;text-align:left}tr:nth-child(even){background:#f4f4f4}</style></head>
<body><h1>Traces of the local stack</h1>
<p>{{.Total}} traces of pipeline work kept, the latest first (at most 200 listed), and the last {{.Others}} of housekeeping alone, such as the Pub/Sub client's acknowledgements and ledger reads, not listed. One (run, date) is one trace.</p>
<table><tr><th>trace</th><th>root</th><th>services</th><th>start</th><th>duration</th><th>spans</th></tr>
{{range .Traces}}<tr><td><a href="/traces/{{.ID}}">{{.ID}}</a></td><td>{{.Root}}</td><td>{{.Services}}</td><td>{{.Start}}</td><td>{{.Duration}}</td><td>{{.Spans}}</td></tr>
{{end}}</table></body></html>`))

var tracePage = template.Must(template.New("trace").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>trace {{.ID}}</title>
<style>body{font:13px system-ui,sans-serif;margin:1em}table{border-collapse:collapse;width:100%}
td{padding:1px 6px;vertical-align:top;white-space:nowrap}tr:hover{background:#eef}
.bar{position:relative;width:40%;min-width:300px}.bar span{position:absolute;top:3px;height:10px;background:#4a7bd0}
.err span{background:#d04a4a}.attrs{color:#555;white-space:normal;font-size:11px}</style></head>
<body><p><a href="/traces/">all traces</a></p><h1>{{.Root}}</h1>
<p>trace {{.ID}}, {{.Duration}}, {{len .Rows}} spans. Hover a span for its events (retries, rate-limiter waits).</p>
<table><tr><th>span</th><th>service</th><th>at</th><th>took</th><th class="bar"></th><th>status</th></tr>
{{range .Rows}}<tr title="{{.EventsText}}"><td style="padding-left:{{.Depth}}px">{{.Name}}<div class="attrs">{{.AttrText}}</div></td>
<td>{{.Service}}</td><td>{{.Offset}}</td><td>{{.Duration}}</td>
<td class="bar{{if ne .Status "Unset"}}{{if ne .Status "Ok"}} err{{end}}{{end}}"><span style="left:{{.LeftPct}}%;width:{{.WidthPct}}%"></span></td><td>{{.Status}}</td></tr>
{{end}}</table></body></html>`))
