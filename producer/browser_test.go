package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nba-props/pipeline/consumers/ledger"
)

// stateColours are the background colours a person sees per state (web/style.css).
var stateColours = map[string]string{
	"succeeded": "rgb(67, 160, 71)",
	"empty":     "rgb(165, 214, 167)",
	"partial":   "rgb(255, 193, 7)",
	"running":   "rgb(66, 165, 245)",
	"stalled":   "rgb(171, 71, 188)",
	"waiting":   "rgb(255, 241, 118)",
	"failed":    "rgb(255, 112, 67)",
	"dead":      "rgb(198, 40, 40)",
	"cancelled": "rgb(120, 144, 156)",
	"none":      "rgb(238, 238, 238)",
}

// browser starts Debian's headless Chromium for the test, or skips it saying how to get
// one. CHROMIUM names another binary.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no Chromium at %s: install Debian's chromium (apt-get install -y chromium; .ci/run does) or set CHROMIUM to run the browser test", path)
	}
	// The network is closed: everything Chromium would fetch on its own is turned off.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true), chromedp.WindowSize(1500, 1000))
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return ctx
}

type drawnCell struct {
	Job   string `json:"job"`
	Date  string `json:"date"`
	State string `json:"state"`
	Bg    string `json:"bg"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// The status page in a real browser: every cell of a seeded week in its state's colour,
// the failed date's error on hover, the progress, a click that opens the record and the
// trace, and a screenshot (STATUS_PAGE_SCREENSHOT names where to keep it).
func TestStatusPageInChromium(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	srv, env, s := statusTestServer(t, "https://console.cloud.google.com/traces/list?project={project}&tid={trace_id}")

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`body[data-loaded="true"]`)); err != nil {
		t.Fatal(err)
	}
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]drawnCell](`[...document.querySelectorAll("td.cell")].map(td => ({job: td.dataset.job,
		date: td.dataset.date, state: td.dataset.state, bg: getComputedStyle(td).backgroundColor, title: td.title, text: td.textContent}))`))
	if err != nil {
		t.Fatal(err)
	}
	bar, err := chromedp.Run(ctx, chromedp.Text("#bar-text"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != len(s.special) {
		t.Fatalf("%d cells drawn, want %d", len(cells), len(s.special))
	}
	seen := map[string]int{}
	for _, c := range cells {
		key := c.Job + " " + c.Date
		want := s.special[key]
		seen[c.State]++
		if c.State != want || c.Bg != stateColours[want] {
			t.Errorf("%s drawn %s in %s, want %s in %s", key, c.State, c.Bg, want, stateColours[want])
		}
		if e := s.errs[key]; e != "" && c.Title != e {
			t.Errorf("%s hover text %q, want its error %q", key, c.Title, e)
		}
	}
	for _, st := range []string{"succeeded", "failed", "stalled", "running", "waiting", "dead", "partial", "cancelled", "none"} {
		if seen[st] == 0 {
			t.Errorf("no cell drawn %s", st)
		}
	}
	if !strings.Contains(bar, "104 / 112 pairs finished") {
		t.Errorf("progress bar says %q, want 104 / 112 pairs finished", bar)
	}

	// A click shows the date's details with links to its record and its trace.
	if err := chromedp.Do(ctx, chromedp.Click(`td[data-job="scrapers/bdl_player_boxscores"][data-date="2024-10-27"]`),
		chromedp.WaitVisible("#detail")); err != nil {
		t.Fatal(err)
	}
	record, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("record-link").href`))
	if err != nil {
		t.Fatal(err)
	}
	traceLink, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("trace-link").hidden ? "" : document.getElementById("trace-link").href`))
	if err != nil {
		t.Fatal(err)
	}
	detail, err := chromedp.Run(ctx, chromedp.Text("#detail-error"))
	if err != nil {
		t.Fatal(err)
	}
	if detail != seedFailedError {
		t.Errorf("detail shows error %q, want %q", detail, seedFailedError)
	}
	wantTrace := "https://console.cloud.google.com/traces/list?project=" + env.Project + "&tid=" + seedTraceID.String()
	if traceLink != wantTrace {
		t.Errorf("trace link %q, want %q", traceLink, wantTrace)
	}
	code, body := get(t, record)
	var rec ledger.Record
	if err := json.Unmarshal([]byte(body), &rec); code != 200 || err != nil || rec.State != ledger.StateFailed || rec.LastError != seedFailedError {
		t.Errorf("the record link %s answered %d %s", record, code, body)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	path := os.Getenv("STATUS_PAGE_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "status-page.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %dx%d: %s", img.Bounds().Dx(), img.Bounds().Dy(), path)
}
