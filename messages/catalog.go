package messages

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// JobRef names one job: the same name may exist in two phases (the nbac_schedule scraper
// and the nbac_schedule raw processor), so a job is always named with its phase.
type JobRef struct {
	Phase Phase
	Job   string
}

// Ref is shorthand for JobRef{phase, job}.
func Ref(p Phase, job string) JobRef { return JobRef{Phase: p, Job: job} }

// String gives the "phase/job" form used in logs, ledger paths and trigger.from.
func (r JobRef) String() string { return string(r.Phase) + "/" + r.Job }

// ParseJobRef reads the "phase/job" form.
func ParseJobRef(s string) (JobRef, error) {
	p, j, ok := strings.Cut(s, "/")
	if !ok {
		return JobRef{}, fmt.Errorf("job reference %q: want phase/job, e.g. raw/bdl_player_boxscores", s)
	}
	ph, err := ParsePhase(p)
	if err != nil {
		return JobRef{}, err
	}
	if err := checkJobName(j); err != nil {
		return JobRef{}, err
	}
	return JobRef{Phase: ph, Job: j}, nil
}

// JobSpec is one line of the catalogue: what a job depends on and how it may be run.
type JobSpec struct {
	Phase Phase
	Name  string
	// Description says in a few words what the job reads and writes.
	Description string
	// Hard upstreams must have succeeded for the same date before the job runs.
	Hard []JobRef
	// Soft upstreams are used when present; their later arrival runs the job again.
	Soft []JobRef
	// MaxConcurrency bounds the (job, date) pairs one consumer process runs at once. A job
	// that must never race with itself (a MERGE into one table) has 1.
	MaxConcurrency int
	// Timeout is the deadline of one run. The subscription's ack deadline is derived from it,
	// and the runtime extends its ledger lease while the run lasts.
	Timeout time.Duration
	// BackfillFrom and BackfillTo bound the dates the source can serve ("" = unbounded).
	BackfillFrom, BackfillTo string
	// CurrentOnly marks a source that only serves the current day (an injury report): it
	// cannot be backfilled at all.
	CurrentOnly bool
	// Deploy sizes the Cloud Run service that serves the job; a zero field takes the phase's
	// default (PhaseDeploy). An environment overrides both in its reviewed file
	// (infra/deploy/environments).
	Deploy Deploy
}

// Deploy is how a job is served on Cloud Run. The jobs of a phase share one service, so
// infra/deploy combines their settings: the most CPU, memory and request timeout any job
// asks for, the fewest max instances and the most min instances, and one service
// account, which every job of the phase must agree on.
type Deploy struct {
	// CPU is the container's CPU limit in Cloud Run's form: "1", "2", "4" or millicores
	// ("500m", which allows only one request at a time).
	CPU string
	// Memory is the container's memory limit: "512Mi", "1Gi".
	Memory string
	// RequestTimeout bounds one push request. infra/deploy refuses one shorter than the
	// job's Timeout plus the push server's wait for a slot.
	RequestTimeout time.Duration
	// ContainerConcurrency is how many requests one instance takes at once. infra/deploy
	// refuses one below the sum of its jobs' MaxConcurrency plus the catch-all, the
	// dead-letter endpoint and /reconcile, so that every job can reach its bound.
	ContainerConcurrency int
	// MinInstances are kept warm; MaxInstances bounds the scale-out. A job's
	// MaxConcurrency is per instance, so MaxInstances 1 makes it global, and a source's rate
	// is split among MaxInstances instances.
	MinInstances, MaxInstances int
	// ServiceAccount is the account ID (before the @) the service runs as.
	ServiceAccount string
}

// Merge returns d with every zero field taken from def.
func (d Deploy) Merge(def Deploy) Deploy {
	if d.CPU == "" {
		d.CPU = def.CPU
	}
	if d.Memory == "" {
		d.Memory = def.Memory
	}
	if d.RequestTimeout == 0 {
		d.RequestTimeout = def.RequestTimeout
	}
	if d.ContainerConcurrency == 0 {
		d.ContainerConcurrency = def.ContainerConcurrency
	}
	if d.MinInstances == 0 {
		d.MinInstances = def.MinInstances
	}
	if d.MaxInstances == 0 {
		d.MaxInstances = def.MaxInstances
	}
	if d.ServiceAccount == "" {
		d.ServiceAccount = def.ServiceAccount
	}
	return d
}

// PhaseDeploy is the deployment of a phase's jobs where a job's Deploy says nothing.
// Scrapers wait on their sources, so more instances add no throughput: each source's rate
// is a budget for the whole service. Raw parses a day's objects in memory and loads them,
// and scales out; analytics and reference run their SQL in BigQuery.
// RequestTimeout and ContainerConcurrency are left to infra/deploy, which derives them
// from the jobs' Timeout and MaxConcurrency.
func PhaseDeploy(p Phase) Deploy {
	d := Deploy{CPU: "1", Memory: "512Mi", MaxInstances: 2, ServiceAccount: "nba-" + string(p)}
	switch p {
	case PhaseRaw:
		d.Memory, d.MaxInstances = "1Gi", 4
	}
	return d
}

// Ref returns the job's reference.
func (s JobSpec) Ref() JobRef { return JobRef{Phase: s.Phase, Job: s.Name} }

// AckDeadline is the subscription ack deadline for the job: its timeout plus a margin,
// within Pub/Sub's 10 s to 600 s. The client library also extends leases while a handler
// runs; this is the bound after a crash.
func (s JobSpec) AckDeadline() time.Duration {
	d := s.Timeout + 30*time.Second
	return min(max(d, 10*time.Second), 600*time.Second)
}

// Upstreams returns the hard then the soft upstreams.
func (s JobSpec) Upstreams() []JobRef { return append(slices.Clone(s.Hard), s.Soft...) }

// CheckDate reports whether the job can run for date, given today's date in US Eastern
// time. The error explains why not and wraps ErrNotBackfillable.
func (s JobSpec) CheckDate(date, today string) error {
	if s.CurrentOnly && date != today {
		return fmt.Errorf("%w: %s only serves the current day (%s), not %s; its source keeps no history",
			ErrNotBackfillable, s.Ref(), today, date)
	}
	return s.CheckBounds(date)
}

// CheckBounds reports whether date lies within the dates the job's source keeps
// (BackfillFrom, BackfillTo). Unlike CheckDate it needs no clock, so the consumer runtime
// checks it for every message before the job runs. The error wraps ErrNotBackfillable.
func (s JobSpec) CheckBounds(date string) error {
	if s.BackfillFrom != "" && date < s.BackfillFrom {
		return fmt.Errorf("%w: %s has data only from %s, not %s", ErrNotBackfillable, s.Ref(), s.BackfillFrom, date)
	}
	if s.BackfillTo != "" && date > s.BackfillTo {
		return fmt.Errorf("%w: %s has data only up to %s, not %s", ErrNotBackfillable, s.Ref(), s.BackfillTo, date)
	}
	return nil
}

// Catalog is the set of jobs and their edges. Build it with NewCatalog, which checks it.
type Catalog struct {
	specs []JobSpec // topological order: every job after its upstreams
	index map[JobRef]int
	down  map[JobRef][]JobRef
}

var jobNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func checkJobName(name string) error {
	if !jobNameRE.MatchString(name) {
		return fmt.Errorf("%w %q: a job name is lower-case letters, digits and _", ErrUnknownJob, name)
	}
	return nil
}

// NewCatalog checks the specs (valid names and phases, no duplicates, upstreams that exist,
// no cycles, bounds that are dates) and derives the downstream edges.
func NewCatalog(specs ...JobSpec) (*Catalog, error) {
	c := &Catalog{index: map[JobRef]int{}, down: map[JobRef][]JobRef{}}
	byRef := map[JobRef]JobSpec{}
	var order []JobRef
	for _, s := range specs {
		if !s.Phase.Valid() {
			return nil, fmt.Errorf("catalogue: job %q: %w %q", s.Name, ErrUnknownPhase, s.Phase)
		}
		if err := checkJobName(s.Name); err != nil {
			return nil, fmt.Errorf("catalogue: %w", err)
		}
		if _, dup := byRef[s.Ref()]; dup {
			return nil, fmt.Errorf("catalogue: %s declared twice", s.Ref())
		}
		for _, d := range []string{s.BackfillFrom, s.BackfillTo} {
			if d != "" {
				if _, err := ParseDate(d); err != nil {
					return nil, fmt.Errorf("catalogue: %s: %w", s.Ref(), err)
				}
			}
		}
		if s.MaxConcurrency <= 0 {
			s.MaxConcurrency = 1
		}
		if d := s.Deploy; d.MinInstances < 0 || d.MaxInstances < 0 || d.ContainerConcurrency < 0 || d.RequestTimeout < 0 ||
			(d.MaxInstances > 0 && d.MinInstances > d.MaxInstances) {
			return nil, fmt.Errorf("catalogue: %s: deploy settings %+v: instances, concurrency and timeout are not negative and min instances are at most max", s.Ref(), d)
		}
		if s.Timeout <= 0 {
			s.Timeout = 5 * time.Minute
		}
		s.Hard, s.Soft = slices.Clone(s.Hard), slices.Clone(s.Soft)
		byRef[s.Ref()] = s
		order = append(order, s.Ref())
	}
	for _, r := range order {
		s := byRef[r]
		for _, u := range s.Upstreams() {
			if _, ok := byRef[u]; !ok {
				return nil, fmt.Errorf("catalogue: %s names upstream %s, which is not in the catalogue", r, u)
			}
			if u == r {
				return nil, fmt.Errorf("catalogue: %s names itself as an upstream", r)
			}
			if u.Phase.Order() > r.Phase.Order() {
				return nil, fmt.Errorf("catalogue: %s (phase %s) cannot depend on %s of a later phase", r, r.Phase, u)
			}
		}
	}
	// Topological sort (Kahn), stable in declaration order.
	done := map[JobRef]bool{}
	for len(c.specs) < len(order) {
		progressed := false
		for _, r := range order {
			if done[r] {
				continue
			}
			ready := true
			for _, u := range byRef[r].Upstreams() {
				if !done[u] {
					ready = false
					break
				}
			}
			if ready {
				done[r] = true
				c.index[r] = len(c.specs)
				c.specs = append(c.specs, byRef[r])
				progressed = true
			}
		}
		if !progressed {
			return nil, fmt.Errorf("catalogue: the upstream edges form a cycle")
		}
	}
	for _, s := range c.specs {
		for _, u := range s.Upstreams() {
			c.down[u] = append(c.down[u], s.Ref())
		}
	}
	return c, nil
}

// Jobs returns every job, each after its upstreams.
func (c *Catalog) Jobs() []JobSpec { return slices.Clone(c.specs) }

// InPhase returns the jobs of one phase, in dependency order.
func (c *Catalog) InPhase(p Phase) []JobSpec {
	var out []JobSpec
	for _, s := range c.specs {
		if s.Phase == p {
			out = append(out, s)
		}
	}
	return out
}

// Lookup finds a job by reference.
func (c *Catalog) Lookup(r JobRef) (JobSpec, bool) {
	i, ok := c.index[r]
	if !ok {
		return JobSpec{}, false
	}
	return c.specs[i], true
}

// Job finds a job of a phase. The error says whether the name is unknown everywhere
// (ErrUnknownJob) or belongs to other phases (ErrJobNotInPhase), and lists what exists.
func (c *Catalog) Job(p Phase, name string) (JobSpec, error) {
	if !p.Valid() {
		return JobSpec{}, fmt.Errorf("%w %q (known phases: %s)", ErrUnknownPhase, p, phaseList())
	}
	if err := checkJobName(name); err != nil {
		return JobSpec{}, err
	}
	if s, ok := c.Lookup(Ref(p, name)); ok {
		return s, nil
	}
	var elsewhere []string
	for _, s := range c.specs {
		if s.Name == name {
			elsewhere = append(elsewhere, string(s.Phase))
		}
	}
	if len(elsewhere) > 0 {
		return JobSpec{}, fmt.Errorf("%w: %s is a job of phase %s, not %s", ErrJobNotInPhase, name, strings.Join(elsewhere, ", "), p)
	}
	var names []string
	for _, s := range c.InPhase(p) {
		names = append(names, s.Name)
	}
	return JobSpec{}, fmt.Errorf("%w %q in phase %s (jobs of %s: %s)", ErrUnknownJob, name, p, p, strings.Join(names, ", "))
}

// CheckDate reports whether job r can run for date, given today's US Eastern date: the
// job's own source bounds and, transitively, those of its hard upstreams (a raw job whose
// scraper cannot fetch a date cannot process it either). The error wraps
// ErrNotBackfillable and says which source limits it.
func (c *Catalog) CheckDate(r JobRef, date, today string) error {
	return c.check(r, func(s JobSpec) error { return s.CheckDate(date, today) })
}

// CheckBounds is CheckDate without the clock: the source bounds of the job and of its hard
// upstreams, not CurrentOnly. The consumer runtime checks it for every message.
func (c *Catalog) CheckBounds(r JobRef, date string) error {
	return c.check(r, func(s JobSpec) error { return s.CheckBounds(date) })
}

// check applies ok to job r and, transitively, to its hard upstreams.
func (c *Catalog) check(r JobRef, ok func(JobSpec) error) error {
	s, found := c.Lookup(r)
	if !found {
		return fmt.Errorf("%w %s", ErrUnknownJob, r)
	}
	if err := ok(s); err != nil {
		return err
	}
	for _, u := range s.Hard {
		if err := c.check(u, ok); err != nil {
			return fmt.Errorf("%s needs %s: %w", r, u, err)
		}
	}
	return nil
}

// Downstream returns the jobs that name r as a hard or soft upstream: the messages a
// consumer emits after finishing r for a date.
func (c *Catalog) Downstream(r JobRef) []JobRef { return slices.Clone(c.down[r]) }
