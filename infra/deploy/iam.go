package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/service"
	"github.com/nba-props/pipeline/messages"
)

func cloneJob(j *schedulerpb.Job) *schedulerpb.Job { return proto.Clone(j).(*schedulerpb.Job) }

// binding is one grant deploy declares: members get role, under a condition if set.
type binding struct {
	role      string
	members   []string
	condition *expr.Expr
}

func (b binding) key() string {
	if b.condition != nil {
		return b.role + " if " + b.condition.GetTitle()
	}
	return b.role
}

// publicMembers are the principals that make a resource public; deploy removes them
// from every policy it manages.
var publicMembers = []string{"allUsers", "allAuthenticatedUsers"}

// policyStore reads and writes one resource's IAM policy through its own client.
type policyStore struct {
	kind, name string // the resource: "service", "nba-raw"
	get        func(ctx context.Context) (*iampb.Policy, error)
	set        func(ctx context.Context, p *iampb.Policy) error
	bindings   []binding
}

// policyResource makes one IAM policy hold deploy's bindings. It adds what is missing and
// removes public principals; it leaves other grants alone, since a policy is shared with
// whoever else administers the project.
type policyResource struct {
	e   *engine
	ps  policyStore
	got *iampb.Policy
}

func (e *engine) policy(ps policyStore) resource { return &policyResource{e: e, ps: ps} }

func (r *policyResource) kind() string { return "iam-policy" }
func (r *policyResource) name() string { return r.ps.kind + " " + r.ps.name }

// policyKind is the kind of resource an iam-policy change is on ("service nba-raw" →
// service), for the permission it needs.
func policyKind(kind, name string) string {
	if kind != "iam-policy" {
		return kind
	}
	k, _, _ := strings.Cut(name, " ")
	return k
}

func (r *policyResource) want() kv {
	var f kv
	for _, b := range r.ps.bindings {
		f.set(b.key(), strings.Join(sorted(b.members), ", "))
	}
	f.set("public", "none")
	return f
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func (r *policyResource) read(ctx context.Context) (map[string]string, bool, error) {
	p, err := r.ps.get(ctx)
	if notFound(err) { // the resource itself is still to be created (a plan)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	r.got = p
	got := map[string]string{}
	for _, b := range r.ps.bindings {
		var have []string
		for _, pb := range p.GetBindings() {
			if pb.GetRole() == b.role && sameCondition(pb.GetCondition(), b.condition) {
				for _, m := range b.members {
					if slices.Contains(pb.GetMembers(), m) {
						have = append(have, m)
					}
				}
			}
		}
		got[b.key()] = strings.Join(sorted(have), ", ")
	}
	got["public"] = "none"
	var public []string
	for _, pb := range p.GetBindings() {
		for _, m := range pb.GetMembers() {
			if slices.Contains(publicMembers, m) {
				public = append(public, m+" as "+pb.GetRole())
			}
		}
	}
	if len(public) > 0 {
		got["public"] = strings.Join(public, ", ")
	}
	return got, true, nil
}

func sameCondition(a, b *expr.Expr) bool {
	return a.GetExpression() == b.GetExpression() && a.GetTitle() == b.GetTitle()
}

func (r *policyResource) create(ctx context.Context) error { return r.update(ctx, nil) }

func (r *policyResource) update(ctx context.Context, _ []Field) error {
	p := r.got
	if p == nil {
		var err error
		if p, err = r.ps.get(ctx); err != nil {
			return err
		}
	}
	p = proto.Clone(p).(*iampb.Policy)
	for _, pb := range p.Bindings {
		pb.Members = slices.DeleteFunc(pb.Members, func(m string) bool { return slices.Contains(publicMembers, m) })
	}
	p.Bindings = slices.DeleteFunc(p.Bindings, func(b *iampb.Binding) bool { return len(b.Members) == 0 })
	for _, b := range r.ps.bindings {
		i := slices.IndexFunc(p.Bindings, func(pb *iampb.Binding) bool {
			return pb.GetRole() == b.role && sameCondition(pb.GetCondition(), b.condition)
		})
		if i < 0 {
			p.Bindings = append(p.Bindings, &iampb.Binding{Role: b.role, Condition: b.condition})
			i = len(p.Bindings) - 1
		}
		for _, m := range b.members {
			if !slices.Contains(p.Bindings[i].Members, m) {
				p.Bindings[i].Members = append(p.Bindings[i].Members, m)
			}
		}
		if b.condition != nil {
			p.Version = 3 // conditions need policy version 3
		}
	}
	return r.ps.set(ctx, p)
}

// getOpts asks for version 3, so conditional bindings are returned whole.
var getOpts = &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}

// grants are the policies deploy sets before the services start, least privilege:
// each consumer account may publish to the phase topics (it emits downstream and its
// reconciler re-sends any job's request) and the dead-letter topic, read and consume its
// own subscriptions, use the bucket, and run BigQuery jobs on its own dataset (editor) and
// its upstreams' (viewer); the producer publishes to the phase topics and uses only the
// ledger and run plans in the bucket; Pub/Sub's service agent mints the push account's
// tokens and forwards dead letters; nothing is public.
func (e *engine) grants() []resource {
	t := e.t
	agent := "serviceAccount:" + PubSubAgent(t.number)
	var consumers []string
	for _, s := range t.services {
		consumers = append(consumers, t.member(s.ServiceAccount))
	}
	producer := t.member(ProducerAccount)
	var out []resource
	ps := e.c.PubSub

	// The project: BigQuery jobs run in a project, so jobUser can only be granted there.
	var bqUsers []string
	bqPhases := bigQueryPhases()
	for _, s := range t.services {
		if bqPhases[s.Phase] {
			bqUsers = append(bqUsers, t.member(s.ServiceAccount))
		}
	}
	projectName := "projects/" + t.project
	out = append(out, e.policy(policyStore{kind: "project", name: t.project,
		bindings: []binding{{role: "roles/bigquery.jobUser", members: bqUsers}},
		get: func(ctx context.Context) (*iampb.Policy, error) {
			return e.c.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: projectName, Options: getOpts})
		},
		set: func(ctx context.Context, p *iampb.Policy) error {
			_, err := e.c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: projectName, Policy: p})
			return err
		}}))

	// The push account: Pub/Sub's service agent signs the push tokens as it.
	pushPath := "projects/" + t.project + "/serviceAccounts/" + t.account(PushAccount)
	out = append(out, e.policy(policyStore{kind: "service-account", name: t.account(PushAccount),
		bindings: []binding{{role: "roles/iam.serviceAccountTokenCreator", members: []string{agent}}},
		get: func(ctx context.Context) (*iampb.Policy, error) {
			p, err := e.c.IAM.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: pushPath, Options: getOpts})
			if err != nil {
				return nil, err
			}
			return p.InternalProto, nil
		},
		set: func(ctx context.Context, p *iampb.Policy) error {
			_, err := e.c.IAM.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: pushPath, Policy: &iam.Policy{InternalProto: p}})
			return err
		}}))

	// The secrets: read by the service of the phase that uses them.
	for _, s := range t.services {
		for _, v := range s.Secrets {
			name := "projects/" + t.project + "/secrets/" + SecretName(v)
			out = append(out, e.policy(policyStore{kind: "secret", name: SecretName(v),
				bindings: []binding{{role: "roles/secretmanager.secretAccessor", members: []string{t.member(s.ServiceAccount)}}},
				get: func(ctx context.Context) (*iampb.Policy, error) {
					return e.c.Secrets.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name, Options: getOpts})
				},
				set: func(ctx context.Context, p *iampb.Policy) error {
					_, err := e.c.Secrets.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: p})
					return err
				}}))
		}
	}

	// Topics: publishers.
	names := messages.Names{}
	topicPolicy := func(id string, b []binding) resource {
		name := "projects/" + t.project + "/topics/" + id
		return e.policy(policyStore{kind: "topic", name: id, bindings: b,
			get: func(ctx context.Context) (*iampb.Policy, error) {
				return ps.TopicAdminClient.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name, Options: getOpts})
			},
			set: func(ctx context.Context, p *iampb.Policy) error {
				_, err := ps.TopicAdminClient.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: p})
				return err
			}})
	}
	for _, p := range messages.Phases() {
		out = append(out, topicPolicy(names.Topic(p), []binding{{role: "roles/pubsub.publisher", members: append(slices.Clone(consumers), producer)}}))
	}
	out = append(out, topicPolicy(names.DeadLetterTopic(), []binding{{role: "roles/pubsub.publisher", members: append(slices.Clone(consumers), agent)}}))

	// Subscriptions: each service reads its own (the runtime reads their settings at start
	// and for /readyz: viewer; subscriber so it could also pull); the service agent
	// forwards dead letters from every subscription that has a dead-letter policy.
	owner := map[messages.Phase]string{}
	for _, s := range t.services {
		owner[s.Phase] = t.member(s.ServiceAccount)
	}
	subPolicy := func(id string, reader string, deadLetters bool) resource {
		name := "projects/" + t.project + "/subscriptions/" + id
		var b []binding
		if reader != "" {
			b = append(b, binding{role: "roles/pubsub.subscriber", members: []string{reader}}, binding{role: "roles/pubsub.viewer", members: []string{reader}})
		}
		if deadLetters {
			if len(b) > 0 {
				b[0].members = append(b[0].members, agent)
			} else {
				b = append(b, binding{role: "roles/pubsub.subscriber", members: []string{agent}})
			}
		}
		return e.policy(policyStore{kind: "subscription", name: id, bindings: b,
			get: func(ctx context.Context) (*iampb.Policy, error) {
				return ps.SubscriptionAdminClient.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name, Options: getOpts})
			},
			set: func(ctx context.Context, p *iampb.Policy) error {
				_, err := ps.SubscriptionAdminClient.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: p})
				return err
			}})
	}
	for _, p := range messages.Phases() {
		for _, j := range t.catalog.InPhase(p) {
			out = append(out, subPolicy(names.Subscription(j.Ref()), owner[p], true))
		}
		out = append(out, subPolicy(names.UnroutableSubscription(p), owner[p], true))
	}
	out = append(out, subPolicy(names.DeadLetterSubscription(), owner[DeadLetterPhase], false))

	// The bucket.
	out = append(out, e.bucketPolicy(consumers, producer))

	// Datasets: BigQuery keeps dataset grants as access entries, not an IAM policy.
	if e.c.BigQuery != nil || t.o.Offline {
		out = append(out, e.datasetAccess()...)
	}
	return out
}

// bigQueryPhases are the phases whose jobs use BigQuery (consumers/service says so).
func bigQueryPhases() map[messages.Phase]bool {
	out := map[messages.Phase]bool{}
	for _, p := range service.Phases() {
		out[p.Phase] = p.BigQuery
	}
	return out
}

// bucketPolicy: the consumers use every object (ledger, raw files, staging, dead letters,
// locks) and read the bucket's metadata for /readyz; the producer reads and writes only
// the ledger and the run plans, by IAM conditions on the object name and list prefix.
func (e *engine) bucketPolicy(consumers []string, producer string) resource {
	t := e.t
	var terms []string
	for _, prefix := range []string{ledger.Prefix, ledger.PlanPrefix} {
		terms = append(terms,
			fmt.Sprintf(`resource.name.startsWith("projects/_/buckets/%s/objects/%s")`, t.bucket, prefix),
			fmt.Sprintf(`api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("%s")`, prefix))
	}
	cond := &expr.Expr{Title: "ledger-and-run-plans", Description: "the producer uses only " + ledger.Prefix + " and " + ledger.PlanPrefix,
		Expression: strings.Join(terms, " || ")}
	var p3 *iam.Policy3
	return e.policy(policyStore{kind: "bucket", name: t.bucket,
		bindings: []binding{
			{role: "roles/storage.objectAdmin", members: consumers},
			{role: "roles/storage.legacyBucketReader", members: consumers},
			{role: "roles/storage.objectAdmin", members: []string{producer}, condition: cond},
		},
		get: func(ctx context.Context) (*iampb.Policy, error) {
			var err error
			p3, err = e.c.Storage.Bucket(t.bucket).IAM().V3().Policy(ctx)
			if err != nil {
				return nil, err
			}
			return &iampb.Policy{Version: 3, Bindings: p3.Bindings}, nil
		},
		set: func(ctx context.Context, p *iampb.Policy) error {
			p3.Bindings = p.Bindings
			return e.c.Storage.Bucket(t.bucket).IAM().V3().SetPolicy(ctx, p3)
		}})
}

// runServicePolicy: only the push account may invoke a consumer service (Pub/Sub's pushes
// and Cloud Scheduler's /reconcile calls both carry its token).
func (e *engine) runServicePolicy(s Service) policyStore {
	name := e.t.parent() + "/services/" + s.Name
	return policyStore{kind: "service", name: s.Name,
		bindings: []binding{{role: "roles/run.invoker", members: []string{e.t.member(PushAccount)}}},
		get: func(ctx context.Context) (*iampb.Policy, error) {
			return e.c.Services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name, Options: getOpts})
		},
		set: func(ctx context.Context, p *iampb.Policy) error {
			_, err := e.c.Services.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: p})
			return err
		}}
}

// runJobPolicy: the scheduler account may run the producer job (run.jobs.run, with its
// own arguments: no overrides).
func (e *engine) runJobPolicy() policyStore {
	name := e.t.parent() + "/jobs/" + ProducerJob
	return policyStore{kind: "job", name: ProducerJob,
		bindings: []binding{{role: "roles/run.invoker", members: []string{e.t.member(SchedulerAccount)}}},
		get: func(ctx context.Context) (*iampb.Policy, error) {
			return e.c.Jobs.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name, Options: getOpts})
		},
		set: func(ctx context.Context, p *iampb.Policy) error {
			_, err := e.c.Jobs.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: p})
			return err
		}}
}
