package deploy

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/nba-props/pipeline/messages"
)

// environments are the reviewed per-environment files: a change to what an environment
// runs is a change to one of them, seen in review like any code.
//
//go:embed environments/*.json
var environments embed.FS

// Environment is one environment's overrides of the catalogue's deployment settings and
// the settings of its own (bucket, schedules), read from environments/<name>.json.
type Environment struct {
	// Name is the file's base name: dev, prod.
	Name        string `json:"-"`
	Description string `json:"description"`
	// Bucket is the bucket of raw files, staging files and the ledger; "{project}" stands
	// for the project ID. Default "{project}-nba-props".
	Bucket string `json:"bucket"`
	// Location of a new bucket and new datasets. Default "US".
	Location string `json:"location"`
	// Repository holds the images (infra image --push); "{project}" and "{region}" are
	// replaced. Default "{region}-docker.pkg.dev/{project}/nba".
	Repository string `json:"repository"`
	// StagingTTLDays is the age at which the bucket deletes the NDJSON a load job read
	// (_staging/); the load is long done by then.
	StagingTTLDays int `json:"staging_ttl_days"`
	// Daily is when Cloud Scheduler runs the producer's daily lane.
	Daily Schedule `json:"daily"`
	// ReconcileSchedule is when Cloud Scheduler calls each service's /reconcile (cron).
	ReconcileSchedule string   `json:"reconcile_schedule"`
	Producer          Producer `json:"producer"`
	// Phases override the settings of a phase's service; Jobs those of one job
	// ("raw/bdl_player_boxscores"), before the jobs of a phase are combined.
	Phases map[string]Override `json:"phases"`
	Jobs   map[string]Override `json:"jobs"`
	// SourceRates replace a source's plan rate, by its variable (BDL_RATE_PER_MINUTE: a
	// smaller plan in dev). The default is the scrapers' own default, which is the plan.
	SourceRates map[string]float64 `json:"source_rates"`
}

// Schedule is a Cloud Scheduler cron schedule in a time zone.
type Schedule struct {
	Cron     string `json:"schedule"`
	TimeZone string `json:"time_zone"`
}

// Producer sizes the producer's Cloud Run job.
type Producer struct {
	CPU        string   `json:"cpu"`
	Memory     string   `json:"memory"`
	Timeout    Duration `json:"timeout"`
	MaxRetries int      `json:"max_retries"`
	// goMemLimit is the job's GOMEMLIMIT, from its memory (goMemLimit).
	goMemLimit string
}

// Override is an environment's change to deployment settings; a field left out keeps the
// catalogue's value (a pointer, so that 0 min instances can be said).
type Override struct {
	CPU                  *string   `json:"cpu"`
	Memory               *string   `json:"memory"`
	RequestTimeout       *Duration `json:"request_timeout"`
	ContainerConcurrency *int      `json:"container_concurrency"`
	MinInstances         *int      `json:"min_instances"`
	MaxInstances         *int      `json:"max_instances"`
	ServiceAccount       *string   `json:"service_account"`
}

// apply returns d with the override's fields set.
func (o Override) apply(d messages.Deploy) messages.Deploy {
	if o.CPU != nil {
		d.CPU = *o.CPU
	}
	if o.Memory != nil {
		d.Memory = *o.Memory
	}
	if o.RequestTimeout != nil {
		d.RequestTimeout = time.Duration(*o.RequestTimeout)
	}
	if o.ContainerConcurrency != nil {
		d.ContainerConcurrency = *o.ContainerConcurrency
	}
	if o.MinInstances != nil {
		d.MinInstances = *o.MinInstances
	}
	if o.MaxInstances != nil {
		d.MaxInstances = *o.MaxInstances
	}
	if o.ServiceAccount != nil {
		d.ServiceAccount = *o.ServiceAccount
	}
	return d
}

// Duration is a time.Duration written as "30m" in an environment file.
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30m\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// ErrEnvironment marks an environment name or file that cannot be used; the message says
// what to fix.
var ErrEnvironment = errors.New("environment")

// Environments lists the environments there are files for.
func Environments() []string {
	entries, _ := fs.Glob(environments, "environments/*.json")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(path.Base(e), ".json"))
	}
	slices.Sort(out)
	return out
}

// LoadEnvironment reads and checks the file of environment name against the catalogue.
func LoadEnvironment(name string, c *messages.Catalog) (*Environment, error) {
	b, err := environments.ReadFile("environments/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w %q: no file infra/deploy/environments/%s.json (environments: %s)",
			ErrEnvironment, name, name, strings.Join(Environments(), ", "))
	}
	return ParseEnvironment(name, b, c)
}

// ParseEnvironment decodes an environment file strictly (an unknown field is a typo, not
// a setting to ignore) and checks that what it names exists.
func ParseEnvironment(name string, b []byte, c *messages.Catalog) (*Environment, error) {
	file := "infra/deploy/environments/" + name + ".json"
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	e := &Environment{Name: name}
	if err := dec.Decode(e); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEnvironment, file, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrEnvironment, file, fmt.Sprintf(format, args...))
	}
	if e.Bucket == "" {
		e.Bucket = "{project}-nba-props"
	}
	if e.Location == "" {
		e.Location = "US"
	}
	if e.Repository == "" {
		e.Repository = "{region}-docker.pkg.dev/{project}/nba"
	}
	if e.ReconcileSchedule == "" {
		e.ReconcileSchedule = "* * * * *"
	}
	if e.StagingTTLDays <= 0 {
		return nil, bad("staging_ttl_days must be at least 1 (days after which _staging/ objects are deleted), got %d", e.StagingTTLDays)
	}
	if e.Daily.Cron == "" || e.Daily.TimeZone == "" {
		return nil, bad(`daily needs "schedule" (cron, such as "0 9 * * *") and "time_zone" (such as "America/New_York")`)
	}
	if _, err := time.LoadLocation(e.Daily.TimeZone); err != nil {
		return nil, bad("daily.time_zone %q: %v", e.Daily.TimeZone, err)
	}
	for _, cron := range []string{e.Daily.Cron, e.ReconcileSchedule} {
		if len(strings.Fields(cron)) != 5 {
			return nil, bad("schedule %q: want five cron fields (minute hour day month weekday)", cron)
		}
	}
	if e.Producer.Timeout <= 0 {
		return nil, bad(`producer.timeout is required (such as "30m")`)
	}
	if e.Producer.CPU == "" {
		e.Producer.CPU = "1"
	}
	if e.Producer.Memory == "" {
		e.Producer.Memory = "512Mi"
	}
	if _, err := cpuMillis(e.Producer.CPU); err != nil {
		return nil, bad("producer.cpu: %v", err)
	}
	mem, err := memoryBytes(e.Producer.Memory)
	if err != nil {
		return nil, bad("producer.memory: %v", err)
	}
	e.Producer.goMemLimit = goMemLimit(mem)
	for p := range e.Phases {
		ph, err := messages.ParsePhase(p)
		if err != nil {
			return nil, bad("phases: %v", err)
		}
		if len(c.InPhase(ph)) == 0 {
			return nil, bad("phases: %s has no jobs, so no service to configure", p)
		}
	}
	for j := range e.Jobs {
		ref, err := messages.ParseJobRef(j)
		if err != nil {
			return nil, bad("jobs: %v", err)
		}
		if _, ok := c.Lookup(ref); !ok {
			return nil, bad("jobs: %s is not in the catalogue (see producer jobs)", ref)
		}
	}
	plans := SourceRates()
	for v, r := range e.SourceRates {
		if _, ok := plans[v]; !ok {
			return nil, bad("source_rates: %s is not a source rate (known: %s)", v, strings.Join(sortedKeys(plans), ", "))
		}
		if r <= 0 {
			return nil, bad("source_rates: %s must be positive, got %v", v, r)
		}
	}
	return e, nil
}

// expand replaces {project} and {region} in an environment setting.
func expand(s, project, region string) string {
	return strings.NewReplacer("{project}", project, "{region}", region).Replace(s)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
