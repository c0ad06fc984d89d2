package deploy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nba-props/pipeline/infra/topology"
	"github.com/nba-props/pipeline/messages"
)

// resource is one thing deploy declares: it reads what exists, says what is declared,
// and creates or updates it.
type resource interface {
	kind() string
	name() string
	// read returns the declared settings as found, or ok false when the resource does not
	// exist. It runs before want, which may keep what it found (an image not given).
	read(ctx context.Context) (got map[string]string, ok bool, err error)
	want() kv
	create(ctx context.Context) error
	update(ctx context.Context, changed []Field) error
}

// engine walks the resources in order, planning or applying each.
type engine struct {
	t   *target
	c   Clients
	rep *Report
	// missingSecrets are secrets that have no enabled version: a service reading them
	// would not start.
	missingSecrets []string
}

func (e *engine) add(r resource, a Action, fields []Field) {
	e.rep.Changes = append(e.rep.Changes, Change{Kind: r.kind(), Name: r.name(), Action: a, Fields: fields})
}

// ensure plans or applies one resource.
func (e *engine) ensure(ctx context.Context, r resource) error {
	if e.t.o.Offline {
		e.add(r, Create, r.want())
		return nil
	}
	got, ok, err := r.read(ctx)
	if err != nil {
		return wrapErr(e.t.project, "get", r.kind(), r.name(), err)
	}
	want := r.want()
	if !ok {
		if !e.t.o.Plan {
			if err := r.create(ctx); err != nil {
				return wrapErr(e.t.project, "create", r.kind(), r.name(), err)
			}
		}
		e.add(r, Create, want)
		return nil
	}
	d := diff(want, got)
	if len(d) == 0 {
		e.add(r, Unchanged, nil)
		return nil
	}
	if !e.t.o.Plan {
		if err := r.update(ctx, d); err != nil {
			return wrapErr(e.t.project, "update", r.kind(), r.name(), err)
		}
	}
	e.add(r, Update, d)
	return nil
}

func (e *engine) ensureAll(ctx context.Context, rs []resource) error {
	for _, r := range rs {
		if err := e.ensure(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// all is the order of a deployment. Each step needs what the steps before it made: the
// services' readiness check reads their subscriptions, bucket and dataset with the grants
// of their accounts, so those come first; the services' URLs are known in advance.
func (e *engine) all(ctx context.Context) error {
	t := e.t
	steps := []func(context.Context) error{
		func(ctx context.Context) error { return e.ensureAll(ctx, e.accounts()) },
		e.secrets,
		e.topology,
		func(ctx context.Context) error { return e.ensure(ctx, e.lifecycle()) },
		func(ctx context.Context) error { return e.ensureAll(ctx, e.grants()) },
		e.checkSecrets,
		func(ctx context.Context) error {
			var rs []resource
			for _, s := range t.services {
				rs = append(rs, e.service(s), e.policy(e.runServicePolicy(s)))
			}
			return e.ensureAll(ctx, rs)
		},
		func(ctx context.Context) error {
			return e.ensureAll(ctx, []resource{e.producerJob(), e.policy(e.runJobPolicy())})
		},
		func(ctx context.Context) error { return e.ensureAll(ctx, e.schedules()) },
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// push is the topology's push configuration: every phase's subscriptions push to its
// service, the dead-letter subscription to the dead-letter service, as the push account.
func (t *target) push() *topology.Push {
	return &topology.Push{ServiceURL: t.url, DeadLetterURL: t.urls[DeadLetterPhase], ServiceAccount: t.account(PushAccount)}
}

// topology declares the topics, subscriptions, bucket, datasets and tables through
// infra/topology, with push subscriptions onto the services.
func (e *engine) topology(ctx context.Context) error {
	t := e.t
	decl := topology.Declare(t.catalog, messages.Names{}, t.bucket, t.push())
	fields := topologyFields(decl, t.env.Location)
	if t.o.Offline {
		for _, f := range fields {
			e.rep.Changes = append(e.rep.Changes, f)
		}
		return nil
	}
	if e.c.BigQuery == nil {
		e.rep.Notes = append(e.rep.Notes, "no BigQuery client: the datasets, tables and dataset grants were skipped")
	}
	r, err := topology.Apply(ctx, topology.Clients{PubSub: e.c.PubSub, Storage: e.c.Storage, BigQuery: e.c.BigQuery}, topology.Options{
		Catalog: t.catalog, Bucket: t.bucket, Location: t.env.Location, Push: t.push(), DryRun: t.o.Plan,
	})
	for _, ch := range r.Changes {
		c := Change{Kind: ch.Kind, Name: ch.Name}
		switch ch.Action {
		case topology.Created:
			c.Action = Create
			if full, ok := fields.find(ch.Kind + " " + ch.Name); ok {
				c.Fields = full.Fields
			}
		case topology.Updated:
			c.Action = Update
			for _, f := range strings.Split(ch.Detail, ", ") {
				c.Fields = append(c.Fields, Field{Name: f})
			}
		default:
			c.Action = Unchanged
		}
		e.rep.Changes = append(e.rep.Changes, c)
	}
	if err != nil {
		return wrapErr(t.project, "apply", "topology", t.project, err)
	}
	return nil
}

// topologyFields are the declared settings of each topology resource, for a create, in
// the topology's order (a map keyed "kind name" iterated through decl order by callers).
func topologyFields(decl topology.Topology, location string) orderedChanges {
	out := orderedChanges{}
	for _, tp := range decl.Topics {
		out.add(Change{Kind: "topic", Name: tp.ID, Action: Create})
	}
	for _, s := range decl.Subscriptions {
		var f kv
		f.set("topic", s.Topic)
		if s.Filter != "" {
			f.set("filter", s.Filter)
		}
		f.set("ack_deadline", s.AckDeadline.String())
		f.set("retry", "backoff "+s.MinBackoff.String()+" to "+s.MaxBackoff.String())
		if s.DeadLetterTopic != "" {
			f.set("dead_letter", s.DeadLetterTopic+" after "+strconv.Itoa(s.MaxDeliveryAttempts)+" attempts")
		}
		f.set("retention", s.Retention.String())
		if s.Push != nil {
			f.set("push_endpoint", s.Push.Endpoint)
			f.set("push_oidc", s.Push.ServiceAccount+" for audience "+s.Push.Audience)
		}
		out.add(Change{Kind: "subscription", Name: s.ID, Action: Create, Fields: f})
	}
	out.add(Change{Kind: "bucket", Name: decl.Bucket, Action: Create, Fields: []Field{{Name: "location", Want: location}, {Name: "uniform_bucket_level_access", Want: "true"}}})
	for _, d := range decl.Datasets {
		out.add(Change{Kind: "dataset", Name: d, Action: Create, Fields: []Field{{Name: "location", Want: location}}})
	}
	for _, tb := range decl.Tables {
		var f kv
		if tb.PartitionField != "" {
			f.set("partition", "DAY on "+tb.PartitionField+fmt.Sprintf(", filter required: %t", tb.RequirePartitionFilter))
		}
		if len(tb.Clustering) > 0 {
			f.set("clustering", strings.Join(tb.Clustering, ", "))
		}
		f.set("columns", strconv.Itoa(len(tb.Schema)))
		out.add(Change{Kind: "table", Name: tb.FullName(), Action: Create, Fields: f})
	}
	return out
}

// orderedChanges is a list of changes that can also be found by "kind name".
type orderedChanges []Change

func (o *orderedChanges) add(c Change) { *o = append(*o, c) }

func (o orderedChanges) find(key string) (Change, bool) {
	for _, c := range o {
		if c.Kind+" "+c.Name == key {
			return c, true
		}
	}
	return Change{}, false
}
