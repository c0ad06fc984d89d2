package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/telemetry"
	"github.com/nba-props/pipeline/messages"
)

// web holds the status page: plain HTML, CSS and JavaScript, no build step.
//
//go:embed web
var web embed.FS

type serveFlags struct {
	addr, job, phase, start, end, runID string
	maxDates                            int
}

// serveConfig is what the status server reads from the environment besides cloud.Env.
type serveConfig struct {
	// TraceURL links a cell to its trace: {trace_id} and {project} are replaced, e.g.
	// https://console.cloud.google.com/traces/list?project={project}&tid={trace_id}.
	TraceURL string `env:"TRACE_URL_TEMPLATE"`
}

// defaultServeAddr is where the status page listens unless --addr says otherwise.
const defaultServeAddr = "127.0.0.1:8099"

func serveCmd(e *env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--addr ADDR] [--run ID | --start-date D --end-date D] [--job all] [--phase P]",
		Short: "Serve the status page: the date × job grid of a run or a range, live",
		Long: withEnv("Serve a web page of the date × job grid from the ledger, coloured by state, with the rows\n" +
			"each date's games lead to expect, the last error on hover, the progress, throughput and\n" +
			"ETA, refreshed every 2 s; a cell links to its ledger record and, with TRACE_URL_TEMPLATE\n" +
			"set and traces recorded, to its trace. --run alone shows the dates of the run's plan.\n" +
			"GET /api/grid is the page's JSON, GET /api/record?job=P/J&date=D a record, GET /metrics\n" +
			"the grid's states as Prometheus text.\n\n" +
			"  TRACE_URL_TEMPLATE  trace link with {trace_id} and {project}, e.g.\n" +
			"                      https://console.cloud.google.com/traces/list?project={project}&tid={trace_id}"),
		Example: `  producer serve --start-date 2024-10-22 --end-date 2024-11-04
  producer serve --run 20241101T120000Z-a1b2c3 --addr :8099`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", defaultServeAddr, "address to listen on (host:port; :8099 for every interface)")
	fl.StringVar(&f.job, "job", "all", `job name, phase/job, or "all"`)
	fl.StringVar(&f.phase, "phase", "", "only jobs of this phase")
	rangeFlags(fl, &f.start, &f.end, &f.maxDates)
	fl.StringVar(&f.runID, "run", "", "show this run: the dates of its plan (unless given), records it last touched")
	return cmd
}

func serve(ctx context.Context, e *env, f serveFlags) error {
	specs, err := statusJobs(e.catalog, f.phase, f.job)
	if err != nil {
		return err
	}
	if f.runID == "" && f.start == "" && f.end == "" {
		return usagef("give --run ID, or --start-date and --end-date (YYYY-MM-DD, inclusive)")
	}
	var sc serveConfig
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &sc, Lookuper: e.lookuper}); err != nil {
		return usagef("reading the environment: %w", err)
	}
	if sc.TraceURL != "" && !strings.Contains(sc.TraceURL, "{trace_id}") {
		return usagef("TRACE_URL_TEMPLATE %q has no {trace_id} to replace", sc.TraceURL)
	}
	var dates []string
	if f.start != "" || f.end != "" {
		if dates, err = expandDates(f.start, f.end, nil, false, f.maxDates); err != nil {
			return err
		}
	}
	cl, err := open(ctx, e, false)
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg, l := cl.cfg, cl.ledger
	if dates == nil {
		if dates, err = planDates(ctx, l, f.runID, f.maxDates); err != nil {
			return err
		}
	}
	st, err := newStatusServer(ctx, statusView{ledger: l, catalog: e.catalog, specs: specs, dates: dates,
		runID: f.runID, project: cfg.Project, traceURL: sc.TraceURL, today: e.today})
	if err != nil {
		return err
	}
	defer st.close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usagef("--addr %s: %w", f.addr, err)
	}
	srv := &http.Server{Handler: st, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "status page: %s\n", pageURL(ln.Addr()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// pageURL is the address to open: a wildcard listen address is reached on loopback.
func pageURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// planDates are the dates of a run's plan, first to last.
func planDates(ctx context.Context, l *ledger.Ledger, runID string, maxDates int) ([]string, error) {
	p, err := l.ReadPlan(ctx, runID)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, usagef("run %s has no plan in the ledger (%s): check the run id, or give --start-date and --end-date", runID, ledger.PlanPath(runID))
	}
	if err != nil {
		return nil, err
	}
	var all []string
	for _, ds := range p.Pairs {
		all = append(all, ds...)
	}
	if len(all) == 0 {
		return nil, usagef("run %s published nothing: give --start-date and --end-date", runID)
	}
	slices.Sort(all)
	return expandDates(all[0], all[len(all)-1], nil, false, maxDates)
}

// statusView is what one status server shows.
type statusView struct {
	ledger   *ledger.Ledger
	catalog  *messages.Catalog
	specs    []messages.JobSpec
	dates    []string
	runID    string
	project  string
	traceURL string
	today    func() string
}

// statusServer serves the status page, its JSON and the grid's metrics.
type statusServer struct {
	view statusView
	mux  *http.ServeMux
	tel  *telemetry.Telemetry
}

func newStatusServer(ctx context.Context, v statusView) (*statusServer, error) {
	tel, err := telemetry.NewPrometheus(ctx, "producer")
	if err != nil {
		return nil, err
	}
	s := &statusServer{view: v, mux: http.NewServeMux(), tel: tel}
	if err := s.registerMetrics(); err != nil {
		return nil, errors.Join(err, tel.Shutdown(ctx))
	}
	static, err := fs.Sub(web, "web")
	if err != nil {
		return nil, err
	}
	s.mux.Handle("GET /", http.FileServerFS(static))
	s.mux.HandleFunc("GET /api/grid", s.grid)
	s.mux.HandleFunc("GET /api/record", s.record)
	s.mux.Handle("GET /metrics", tel.Metrics)
	return s, nil
}

func (s *statusServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *statusServer) close() { _ = s.tel.Shutdown(context.Background()) }

// gridJob is a column of the page.
type gridJob struct {
	Ref   string `json:"ref"`
	Phase string `json:"phase"`
	Job   string `json:"job"`
	Unit  string `json:"unit"` // what a cell counts: objects for a scraper, rows otherwise
}

// pageCell is a cell with how the page draws it.
type pageCell struct {
	cell
	Class string `json:"class"` // the state drawn: cellState
	Label string `json:"label"` // the status grid's short text
	Trace string `json:"trace_url,omitempty"`
}

// gridPage is GET /api/grid.
type gridPage struct {
	Title     string       `json:"title"`
	RunID     string       `json:"run_id,omitempty"`
	Generated time.Time    `json:"generated"`
	Dates     []string     `json:"dates"`
	Jobs      []gridJob    `json:"jobs"`
	Cells     []pageCell   `json:"cells"` // dates down, jobs across: Cells[i*len(Jobs)+j]
	Progress  gridProgress `json:"progress"`
}

func (s *statusServer) page(ctx context.Context) (gridPage, error) {
	v := s.view
	now := time.Now()
	cells, _, err := gridCells(ctx, v.ledger, v.specs, v.dates, v.runID, now)
	if err != nil {
		return gridPage{}, err
	}
	p := gridPage{Generated: now.UTC(), RunID: v.runID, Dates: v.dates, Progress: gridProgressOf(v.catalog, cells, v.today(), now)}
	p.Title = fmt.Sprintf("%s to %s", v.dates[0], v.dates[len(v.dates)-1])
	if v.runID != "" {
		p.Title = "run " + v.runID + ", " + p.Title
	}
	for _, sp := range v.specs {
		unit := "rows"
		if sp.Phase == messages.PhaseScrapers {
			unit = "objects"
		}
		p.Jobs = append(p.Jobs, gridJob{Ref: sp.Ref().String(), Phase: string(sp.Phase), Job: sp.Name, Unit: unit})
	}
	for _, c := range cells {
		pc := pageCell{cell: c, Class: cellState(c), Label: short(c)}
		if c.TraceID != "" && v.traceURL != "" {
			pc.Trace = strings.NewReplacer("{trace_id}", c.TraceID, "{project}", v.project).Replace(v.traceURL)
		}
		p.Cells = append(p.Cells, pc)
	}
	return p, nil
}

func (s *statusServer) grid(w http.ResponseWriter, r *http.Request) {
	p, err := s.page(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, p)
}

// record serves the ledger record of ?job=phase/job&date=D as JSON.
func (s *statusServer) record(w http.ResponseWriter, r *http.Request) {
	ref, err := messages.ParseJobRef(r.URL.Query().Get("job"))
	if err != nil {
		http.Error(w, fmt.Sprintf("job=%q: %v (want phase/job)", r.URL.Query().Get("job"), err), http.StatusBadRequest)
		return
	}
	date := r.URL.Query().Get("date")
	if _, err := messages.ParseDate(date); err != nil {
		http.Error(w, fmt.Sprintf("date=%q: %v", date, err), http.StatusBadRequest)
		return
	}
	rec, _, err := s.view.ledger.Get(r.Context(), ref, date)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		http.Error(w, fmt.Sprintf("%s %s has no ledger record: it never ran", ref, date), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
	default:
		writeJSON(w, rec)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Metric names of the status server's /metrics.
const (
	metricRecords    = "pipeline.ledger.records"
	metricPairs      = "pipeline.backfill.pairs"
	metricETASeconds = "pipeline.backfill.eta"
)

// registerMetrics serves the grid as gauges, read from the ledger at each scrape: pairs by
// phase, job and state, the finished and total pairs, and the ETA.
func (s *statusServer) registerMetrics() error {
	m := s.tel.MeterProvider.Meter(telemetry.ScopeName)
	records, err1 := m.Int64ObservableGauge(metricRecords, metric.WithUnit("{pair}"),
		metric.WithDescription("(job, date) pairs of the status server's grid by phase, job and state (none: no record)"))
	pairs, err2 := m.Int64ObservableGauge(metricPairs, metric.WithUnit("{pair}"),
		metric.WithDescription("Pairs of the grid the sources can serve (kind=total) and those finished (kind=finished)"))
	etaG, err3 := m.Float64ObservableGauge(metricETASeconds, metric.WithUnit("s"),
		metric.WithDescription("Time left at the recent rate of finishing (0: finished or unknown)"))
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	_, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		p, err := s.page(ctx)
		if err != nil {
			return err
		}
		counts := map[[3]string]int64{}
		for _, c := range p.Cells {
			counts[[3]string{c.Phase, c.Job, c.Class}]++
		}
		for k, n := range counts {
			o.ObserveInt64(records, n, metric.WithAttributes(telemetry.AttrPhase.String(k[0]), telemetry.AttrJob.String(k[1]), telemetry.AttrState.String(k[2])))
		}
		o.ObserveInt64(pairs, int64(p.Progress.Total), metric.WithAttributes(attribute.String("kind", "total")))
		o.ObserveInt64(pairs, int64(p.Progress.Finished), metric.WithAttributes(attribute.String("kind", "finished")))
		o.ObserveFloat64(etaG, p.Progress.ETA.Seconds())
		return nil
	}, records, pairs, etaG)
	return err
}
