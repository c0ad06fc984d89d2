package deploy

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/consumers/scrapers"
	"github.com/nba-props/pipeline/messages"
)

// Names of the resources deploy owns besides the topology's. One project holds one
// environment: the BigQuery datasets carry no prefix, so two environments in one project
// would share their tables.
const (
	// ProducerJob is the Cloud Run job of the producer: gcloud run jobs execute nba-producer.
	ProducerJob = "nba-producer"
	// ProducerAccount runs the producer job.
	ProducerAccount = "nba-producer"
	// PushAccount is the identity Pub/Sub signs push tokens as and Cloud Scheduler calls
	// /reconcile as: the consumers accept that one account only (PUSH_SERVICE_ACCOUNT).
	PushAccount = "nba-push"
	// SchedulerAccount is the identity Cloud Scheduler runs the producer job as.
	SchedulerAccount = "nba-scheduler"
	// DailyScheduler is the Cloud Scheduler job of the daily lane.
	DailyScheduler = "nba-daily"
	// DeadLetterPhase is the phase whose service keeps the dead letters
	// (CONSUMER_DEADLETTERS=true) and serves the dead-letter subscription.
	DeadLetterPhase = messages.PhaseRaw
	// ContainerPort is the port the consumers listen on: Cloud Run sets PORT to it.
	ContainerPort = 8080
	// managedBy labels what deploy created.
	managedBy = "nba-deploy"
)

// ServiceName is the Cloud Run service of a phase: nba-scrapers, nba-raw, ...
func ServiceName(p messages.Phase) string { return "nba-" + string(p) }

// ReconcileScheduler is the Cloud Scheduler job calling a phase service's /reconcile.
func ReconcileScheduler(p messages.Phase) string { return "nba-reconcile-" + string(p) }

// ServiceURL is the deterministic URL Cloud Run gives a service,
// https://<service>-<project number>.<region>.run.app. Known before the service exists, it
// lets the push subscriptions (which the service's readiness check reads) be created first
// and the service start with PUSH_AUDIENCE already right.
func ServiceURL(service, projectNumber, region string) string {
	return "https://" + service + "-" + projectNumber + "." + region + ".run.app"
}

// AccountEmail is the email of a service account of the project.
func AccountEmail(id, project string) string { return id + "@" + project + ".iam.gserviceaccount.com" }

// PubSubAgent is the Pub/Sub service agent of a project: it signs push tokens as the push
// account and forwards dead letters.
func PubSubAgent(projectNumber string) string {
	return "service-" + projectNumber + "@gcp-sa-pubsub.iam.gserviceaccount.com"
}

// SecretName is the Secret Manager secret of a secret variable: BDL_API_KEY → bdl-api-key.
func SecretName(env string) string { return strings.ToLower(strings.ReplaceAll(env, "_", "-")) }

// ratePhase is the phase whose service reads scrapers.Config (consumers/service wires
// the scrapers' configuration into the scrapers phase only).
const ratePhase = messages.PhaseScrapers

// SourceRates are the plan rates of the sources, by variable (BDL_RATE_PER_MINUTE: 600):
// the defaults of scrapers.Config, which are the plans, read from its struct tags so they
// are written once. A rate there is per process; deploy splits it among instances.
func SourceRates() map[string]float64 {
	out := map[string]float64{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[scrapers.Config]()) {
		name, def := envTag(f)
		if !strings.HasSuffix(name, "_RATE_PER_MINUTE") {
			continue
		}
		v, err := strconv.ParseFloat(def, 64)
		if err != nil {
			panic(fmt.Sprintf("scrapers.Config %s: default %q is not a rate", name, def)) // checked by TestSourceRates
		}
		out[name] = v
	}
	return out
}

// SecretVariables are the variables of scrapers.Config that hold a secret (API keys): on
// Cloud Run each comes from Secret Manager (SecretName), never as a plain value.
func SecretVariables() []string {
	var out []string
	for _, f := range reflect.VisibleFields(reflect.TypeFor[scrapers.Config]()) {
		if f.Type == reflect.TypeFor[scrapers.Secret]() {
			name, _ := envTag(f)
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func envTag(f reflect.StructField) (name, def string) {
	tag := f.Tag.Get("env")
	name, opts, _ := strings.Cut(tag, ",")
	for o := range strings.SplitSeq(opts, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(o), "default="); ok {
			def = v
		}
	}
	return strings.TrimSpace(name), def
}

// Service is what one phase's Cloud Run service runs with: its jobs' deployment settings
// combined, the environment's overrides applied, the derived values filled in and checked.
type Service struct {
	Phase messages.Phase
	Name  string
	Jobs  []messages.JobSpec
	messages.Deploy
	// DeadLetters: this service keeps the dead letters.
	DeadLetters bool
	// Rates are the per-instance rates of the sources (variable → requests a minute): each
	// plan rate divided by MaxInstances.
	Rates map[string]float64
	// Secrets are the secret variables the service reads from Secret Manager.
	Secrets []string
	// goMemLimit is the container's GOMEMLIMIT, from its memory (goMemLimit).
	goMemLimit string
}

// Cloud Run's limits that the settings are checked against.
const (
	maxRequestTimeout = time.Hour
	maxConcurrency    = 1000
)

// MinConcurrency is the least container concurrency a phase's service can have: every
// job of the phase at its MaxConcurrency (the push server bounds each job per instance),
// plus the phase's catch-all, /reconcile and, on the dead-letter service, the dead-letter
// endpoint. Fewer and Cloud Run would hold back a push that the job's bound admits, so one
// busy job could keep the others below theirs on every instance.
func MinConcurrency(jobs []messages.JobSpec, deadLetters bool) int {
	n := 2 // the catch-all and /reconcile
	if deadLetters {
		n++
	}
	for _, j := range jobs {
		n += j.MaxConcurrency
	}
	return n
}

// MinRequestTimeout is the shortest request timeout a job allows: a push waits up to the
// push server's slot wait, then runs for up to the job's Timeout.
func MinRequestTimeout(j messages.JobSpec) time.Duration { return j.Timeout + push.DefaultSlotWait }

// Services derives one Service per phase that has jobs, in flow order.
func Services(c *messages.Catalog, e *Environment) ([]Service, error) {
	var out []Service
	for _, p := range messages.Phases() {
		jobs := c.InPhase(p)
		if len(jobs) == 0 {
			continue
		}
		s, err := phaseService(p, jobs, e)
		if err != nil {
			return nil, fmt.Errorf("%w: service %s (phase %s): %w", ErrEnvironment, ServiceName(p), p, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func phaseService(p messages.Phase, jobs []messages.JobSpec, e *Environment) (Service, error) {
	s := Service{Phase: p, Name: ServiceName(p), Jobs: jobs, DeadLetters: p == DeadLetterPhase}
	def := messages.PhaseDeploy(p)
	var d messages.Deploy
	var accounts []string
	var longest messages.JobSpec
	for i, j := range jobs {
		jd := e.Jobs[j.Ref().String()].apply(j.Deploy).Merge(def)
		if jd.RequestTimeout != 0 && jd.RequestTimeout < MinRequestTimeout(j) {
			return s, fmt.Errorf("job %s: request timeout %s is shorter than its timeout %s plus the push slot wait %s",
				j.Ref(), jd.RequestTimeout, j.Timeout, push.DefaultSlotWait)
		}
		if !slices.Contains(accounts, jd.ServiceAccount) {
			accounts = append(accounts, jd.ServiceAccount)
		}
		if i == 0 {
			d = jd
			longest = j
			continue
		}
		var err error
		if d.CPU, err = larger(d.CPU, jd.CPU, cpuMillis); err != nil {
			return s, fmt.Errorf("job %s: cpu: %w", j.Ref(), err)
		}
		if d.Memory, err = larger(d.Memory, jd.Memory, memoryBytes); err != nil {
			return s, fmt.Errorf("job %s: memory: %w", j.Ref(), err)
		}
		d.RequestTimeout = max(d.RequestTimeout, jd.RequestTimeout)
		d.ContainerConcurrency = max(d.ContainerConcurrency, jd.ContainerConcurrency)
		d.MinInstances = max(d.MinInstances, jd.MinInstances)
		d.MaxInstances = min(d.MaxInstances, jd.MaxInstances)
		if j.AckDeadline() > longest.AckDeadline() {
			longest = j
		}
	}
	if len(accounts) > 1 {
		return s, fmt.Errorf("the jobs name service accounts %s: one service runs as one account, so give every job of the phase the same", strings.Join(accounts, ", "))
	}
	// The phase's own override wins over the combination of its jobs.
	d = e.Phases[string(p)].apply(d)
	need := MinConcurrency(jobs, s.DeadLetters)
	if d.ContainerConcurrency == 0 {
		d.ContainerConcurrency = need
	}
	if d.RequestTimeout == 0 {
		// Past the ack deadline Pub/Sub has given up on the push and will send it again.
		d.RequestTimeout = longest.AckDeadline()
	}
	switch {
	case d.ContainerConcurrency < need:
		return s, fmt.Errorf("container concurrency %d is below %d, the sum of its jobs' MaxConcurrency plus the catch-all, /reconcile%s: raise it or leave it out",
			d.ContainerConcurrency, need, map[bool]string{true: " and the dead-letter endpoint"}[s.DeadLetters])
	case d.ContainerConcurrency > maxConcurrency:
		return s, fmt.Errorf("container concurrency %d is above Cloud Run's %d", d.ContainerConcurrency, maxConcurrency)
	case d.RequestTimeout < MinRequestTimeout(longest):
		return s, fmt.Errorf("request timeout %s is shorter than job %s's timeout %s plus the push slot wait %s",
			d.RequestTimeout, longest.Ref(), longest.Timeout, push.DefaultSlotWait)
	case d.RequestTimeout > maxRequestTimeout:
		return s, fmt.Errorf("request timeout %s is above Cloud Run's %s", d.RequestTimeout, maxRequestTimeout)
	case d.MaxInstances < 1:
		return s, fmt.Errorf("max instances %d: at least 1", d.MaxInstances)
	case d.MinInstances < 0 || d.MinInstances > d.MaxInstances:
		return s, fmt.Errorf("min instances %d: between 0 and max instances %d", d.MinInstances, d.MaxInstances)
	}
	cpu, err := cpuMillis(d.CPU)
	if err != nil {
		return s, fmt.Errorf("cpu: %w", err)
	}
	if cpu < 1000 {
		return s, fmt.Errorf("cpu %s: Cloud Run allows only one request at a time below 1 CPU, and the service needs %d", d.CPU, need)
	}
	mem, err := memoryBytes(d.Memory)
	if err != nil {
		return s, fmt.Errorf("memory: %w", err)
	}
	s.goMemLimit = goMemLimit(mem)
	if err := checkAccountID(d.ServiceAccount); err != nil {
		return s, err
	}
	s.Deploy = d
	if p == ratePhase {
		s.Rates = map[string]float64{}
		for v, plan := range SourceRates() {
			if r, ok := e.SourceRates[v]; ok {
				plan = r
			}
			s.Rates[v] = plan / float64(d.MaxInstances)
		}
		s.Secrets = SecretVariables()
	}
	return s, nil
}

// checkAccountID applies IAM's rule for an account ID.
func checkAccountID(id string) error {
	ok := len(id) >= 6 && len(id) <= 30 && id[0] >= 'a' && id[0] <= 'z' && id[len(id)-1] != '-'
	for _, r := range id {
		ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}
	if !ok {
		return fmt.Errorf("service account %q: an account ID is 6 to 30 lower-case letters, digits and hyphens, starting with a letter", id)
	}
	return nil
}

// larger returns whichever of a and b measures more.
func larger(a, b string, measure func(string) (int64, error)) (string, error) {
	ma, err := measure(a)
	if err != nil {
		return "", err
	}
	mb, err := measure(b)
	if err != nil {
		return "", err
	}
	if mb > ma {
		return b, nil
	}
	return a, nil
}

// cpuMillis reads a Cloud Run CPU limit: "1", "2", "4", "8" or millicores "500m".
func cpuMillis(s string) (int64, error) {
	if m, ok := strings.CutSuffix(s, "m"); ok {
		v, err := strconv.ParseInt(m, 10, 64)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("%q: want whole CPUs such as \"1\" or millicores such as \"500m\"", s)
		}
		return v, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || !slices.Contains([]int64{1, 2, 4, 6, 8}, v) {
		return 0, fmt.Errorf("%q: Cloud Run takes 1, 2, 4, 6 or 8 CPUs, or millicores such as \"500m\"", s)
	}
	return v * 1000, nil
}

// memoryBytes reads a Cloud Run memory limit: "512Mi", "1Gi".
func memoryBytes(s string) (int64, error) {
	for suffix, unit := range map[string]int64{"Mi": 1 << 20, "Gi": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err == nil && v > 0 {
				return v * unit, nil
			}
		}
	}
	return 0, fmt.Errorf("%q: want a size such as \"512Mi\" or \"2Gi\"", s)
}

// goMemLimit is the GOMEMLIMIT of a container of memory bytes: nine tenths of it. Go sizes
// its heap to twice the live part between collections and does not read the container's
// limit, so a burst could take an instance past it and Cloud Run would kill it with its
// requests; with the soft limit the collector runs more often near it instead. The tenth
// left over is for what the Go runtime does not count: the binary's pages and the
// container's own files, which Cloud Run keeps in memory.
func goMemLimit(memory int64) string { return strconv.FormatInt(memory/10*9>>20, 10) + "MiB" }

// formatRate writes a rate as Go's strconv would read it back, without trailing zeros.
func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }
