package deploy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/infra/deploy"
	"github.com/nba-props/pipeline/infra/deploy/gcpfake"
	"github.com/nba-props/pipeline/messages"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	project = "demo-project"
	number  = "123456789012"
	region  = "us-west2"
	repo    = "us-west2-docker.pkg.dev/demo-project/nba"
)

var (
	consumersDigest = "sha256:" + strings.Repeat("ab", 32)
	producerDigest  = "sha256:" + strings.Repeat("cd", 32)
)

func options(t *testing.T, env string) deploy.Options {
	t.Helper()
	e, err := deploy.LoadEnvironment(env, messages.DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	images, err := deploy.ParseImages([]string{"consumers=" + consumersDigest, "producer=" + repo + "/producer@" + producerDigest}, repo)
	if err != nil {
		t.Fatal(err)
	}
	return deploy.Options{Project: project, Region: region, Environment: e, Images: images}
}

// fake starts the in-process Google Cloud and connects deploy's clients to it.
func fake(t *testing.T) (*gcpfake.Fake, deploy.Clients) {
	t.Helper()
	f, err := gcpfake.Start(project, number)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	c, closeClients, err := f.Clients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeClients() })
	return f, c
}

// addSecretValues stores a value for every secret deploy created, as an operator does.
func addSecretValues(t *testing.T, c deploy.Clients) {
	t.Helper()
	for _, v := range deploy.SecretVariables() {
		_, err := c.Secrets.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
			Parent: "projects/" + project + "/secrets/" + deploy.SecretName(v), Payload: &secretmanagerpb.SecretPayload{Data: []byte("key")}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func url(service string) string {
	return "https://" + service + "-" + number + "." + region + ".run.app"
}

func sa(id string) string { return id + "@" + project + ".iam.gserviceaccount.com" }

func TestApplyDevCreatesEveryResource(t *testing.T) {
	t.Parallel()
	f, c := fake(t)
	ctx := context.Background()
	o := options(t, "dev")

	// A first apply stops before the services: the secrets it created have no value yet.
	_, err := deploy.Run(ctx, c, o)
	if err == nil || !strings.Contains(err.Error(), "bdl-api-key, odds-api-key have no enabled version") ||
		!strings.Contains(err.Error(), "gcloud secrets versions add") {
		t.Fatalf("first apply without secret values: err = %v, want the secrets named with the command that adds them", err)
	}
	if _, ok := f.Service("projects/" + project + "/locations/" + region + "/services/nba-scrapers"); ok {
		t.Fatal("a service was created although its secrets have no value")
	}
	addSecretValues(t, c)
	rep, err := deploy.Run(ctx, c, o)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, rep)
	}

	// The services: image by digest, push mode for their phase, derived rates, secret refs,
	// probes and scaling.
	raw, ok := f.Service("projects/" + project + "/locations/" + region + "/services/nba-raw")
	if !ok {
		t.Fatal("no service nba-raw")
	}
	ctr := raw.GetTemplate().GetContainers()[0]
	if got, want := ctr.GetImage(), repo+"/consumers@"+consumersDigest; got != want {
		t.Errorf("nba-raw image = %s, want %s", got, want)
	}
	wantEnv := map[string]string{
		"GOOGLE_CLOUD_PROJECT": project, "GCS_BUCKET": project + "-nba-props", "CONSUMER_MODE": "push",
		"CONSUMER_PHASES": "raw", "CONSUMER_DEADLETTERS": "true", "PUSH_AUDIENCE": url("nba-raw"),
		"PUSH_SERVICE_ACCOUNT": sa("nba-push"),
		// Nine tenths of the raw phase's 1Gi.
		"GOMEMLIMIT": "921MiB",
	}
	if diff := cmp.Diff(wantEnv, envOf(ctr)); diff != "" {
		t.Errorf("nba-raw env (-want +got):\n%s", diff)
	}
	if got := raw.GetTemplate().GetScaling(); got.GetMinInstanceCount() != 0 || got.GetMaxInstanceCount() != 2 {
		t.Errorf("nba-raw scaling = %v, want 0 to 2 (dev.json)", got)
	}
	if got, want := raw.GetTemplate().GetMaxInstanceRequestConcurrency(), int32(4+4+4+1+4+4+3); got != want {
		t.Errorf("nba-raw container concurrency = %d, want %d (jobs' MaxConcurrency + catch-all, /reconcile, dead letters)", got, want)
	}
	if got := ctr.GetStartupProbe().GetHttpGet().GetPath(); got != "/readyz" {
		t.Errorf("startup probe path = %q, want /readyz", got)
	}
	if got := ctr.GetLivenessProbe().GetHttpGet().GetPath(); got != "/healthz" {
		t.Errorf("liveness probe path = %q, want /healthz", got)
	}
	if raw.GetIngress() != runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY || raw.GetInvokerIamDisabled() {
		t.Errorf("nba-raw ingress %v, invoker IAM disabled %v: want internal only, IAM checked", raw.GetIngress(), raw.GetInvokerIamDisabled())
	}
	if got, want := raw.GetTemplate().GetServiceAccount(), sa("nba-raw"); got != want {
		t.Errorf("nba-raw runs as %s, want %s", got, want)
	}

	scr, _ := f.Service("projects/" + project + "/locations/" + region + "/services/nba-scrapers")
	env := envOf(scr.GetTemplate().GetContainers()[0])
	// dev.json: one scraper instance, so each source's whole plan rate.
	for v, want := range map[string]string{"BDL_RATE_PER_MINUTE": "600", "ODDS_API_RATE_PER_MINUTE": "120",
		"NBA_CDN_RATE_PER_MINUTE": "120", "NBA_STATS_RATE_PER_MINUTE": "30", "NBA_STATSDMZ_RATE_PER_MINUTE": "60", "CONSUMER_DEADLETTERS": "false",
		"BDL_API_KEY": "secret bdl-api-key version latest", "ODDS_API_KEY": "secret odds-api-key version latest"} {
		if env[v] != want {
			t.Errorf("nba-scrapers %s = %q, want %q", v, env[v], want)
		}
	}
	ref, _ := f.Service("projects/" + project + "/locations/" + region + "/services/nba-reference")
	if got := ref.GetTemplate().GetScaling().GetMaxInstanceCount(); got != 1 {
		t.Errorf("nba-reference max instances = %d, want 1 (player_registry's MERGE must not race itself)", got)
	}

	// The producer job: producer image, daily lane by default.
	job, ok := f.Job("projects/" + project + "/locations/" + region + "/jobs/nba-producer")
	if !ok {
		t.Fatal("no job nba-producer")
	}
	jc := job.GetTemplate().GetTemplate().GetContainers()[0]
	if jc.GetImage() != repo+"/producer@"+producerDigest || !slices.Equal(jc.GetArgs(), []string{"daily"}) ||
		job.GetTemplate().GetTemplate().GetServiceAccount() != sa("nba-producer") {
		t.Errorf("producer job: image %s, args %v, account %s", jc.GetImage(), jc.GetArgs(), job.GetTemplate().GetTemplate().GetServiceAccount())
	}
	if got := envOf(jc)["GOMEMLIMIT"]; got != "460MiB" {
		t.Errorf("producer job GOMEMLIMIT = %q, want 460MiB (nine tenths of its 512Mi)", got)
	}

	// The schedules.
	daily, err := c.Scheduler.GetJob(ctx, &schedulerpb.GetJobRequest{Name: "projects/" + project + "/locations/" + region + "/jobs/nba-daily"})
	if err != nil {
		t.Fatal(err)
	}
	h := daily.GetHttpTarget()
	if h.GetUri() != "https://run.googleapis.com/v2/projects/"+project+"/locations/"+region+"/jobs/nba-producer:run" ||
		h.GetOauthToken().GetServiceAccountEmail() != sa("nba-scheduler") || daily.GetSchedule() != "0 9 * * *" {
		t.Errorf("daily schedule = %v", daily)
	}
	for _, p := range []string{"scrapers", "raw", "reference", "analytics"} {
		j, err := c.Scheduler.GetJob(ctx, &schedulerpb.GetJobRequest{Name: "projects/" + project + "/locations/" + region + "/jobs/nba-reconcile-" + p})
		if err != nil {
			t.Fatal(err)
		}
		h := j.GetHttpTarget()
		if h.GetUri() != url("nba-"+p)+"/reconcile" || h.GetHttpMethod() != schedulerpb.HttpMethod_POST ||
			h.GetOidcToken().GetServiceAccountEmail() != sa("nba-push") || h.GetOidcToken().GetAudience() != url("nba-"+p) ||
			j.GetSchedule() != "* * * * *" {
			t.Errorf("reconcile schedule of %s = %v", p, j)
		}
	}

	// The service accounts.
	for _, id := range []string{"nba-scrapers", "nba-raw", "nba-reference", "nba-analytics", "nba-producer", "nba-push", "nba-scheduler"} {
		if _, err := c.IAM.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: "projects/" + project + "/serviceAccounts/" + sa(id)}); err != nil {
			t.Errorf("service account %s: %v", id, err)
		}
	}

	// The grants.
	agent := "serviceAccount:service-" + number + "@gcp-sa-pubsub.iam.gserviceaccount.com"
	grants := []struct{ resource, role, member string }{
		{"projects/" + project + "/locations/" + region + "/services/nba-raw", "roles/run.invoker", "serviceAccount:" + sa("nba-push")},
		{"projects/" + project + "/locations/" + region + "/jobs/nba-producer", "roles/run.invoker", "serviceAccount:" + sa("nba-scheduler")},
		{"projects/" + project + "/serviceAccounts/" + sa("nba-push"), "roles/iam.serviceAccountTokenCreator", agent},
		{"projects/" + project + "/topics/nba-deadletter", "roles/pubsub.publisher", agent},
		{"projects/" + project + "/subscriptions/nba-phase2-raw.bdl_player_boxscores", "roles/pubsub.subscriber", agent},
		{"projects/" + project + "/subscriptions/nba-phase2-raw.bdl_player_boxscores", "roles/pubsub.subscriber", "serviceAccount:" + sa("nba-raw")},
		{"projects/" + project + "/topics/nba-phase1-scrapers", "roles/pubsub.publisher", "serviceAccount:" + sa("nba-producer")},
		{"projects/" + project + "/secrets/bdl-api-key", "roles/secretmanager.secretAccessor", "serviceAccount:" + sa("nba-scrapers")},
		{"projects/" + project, "roles/bigquery.jobUser", "serviceAccount:" + sa("nba-analytics")},
		{"projects/_/buckets/" + project + "-nba-props", "roles/storage.objectAdmin", "serviceAccount:" + sa("nba-raw")},
	}
	for _, g := range grants {
		if !hasMember(f, g.resource, g.role, g.member) {
			t.Errorf("%s: %s lacks %s", g.resource, g.member, g.role)
		}
	}
	if hasMember(f, "projects/"+project+"/locations/"+region+"/services/nba-raw", "roles/run.invoker", "serviceAccount:"+sa("nba-scheduler")) {
		t.Error("the scheduler account may invoke the consumer services: only the push account should")
	}
	p := f.Policy("projects/_/buckets/" + project + "-nba-props")
	var producerCond string
	for _, b := range p.GetBindings() {
		if slices.Contains(b.GetMembers(), "serviceAccount:"+sa("nba-producer")) {
			producerCond = b.GetCondition().GetExpression()
		}
	}
	if !strings.Contains(producerCond, "/objects/_ledger/") || !strings.Contains(producerCond, "/objects/_runs/") || p.GetVersion() != 3 {
		t.Errorf("the producer's bucket grant is not limited to _ledger/ and _runs/: condition %q, policy version %d", producerCond, p.GetVersion())
	}

	// The push subscriptions point at the services' URLs.
	sub, err := c.PubSub.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
		Subscription: "projects/" + project + "/subscriptions/nba-phase3-analytics.player_game_summary"})
	if err != nil {
		t.Fatal(err)
	}
	pc := sub.GetPushConfig()
	if pc.GetPushEndpoint() != url("nba-analytics")+"/push/analytics/player_game_summary" ||
		pc.GetOidcToken().GetServiceAccountEmail() != sa("nba-push") || pc.GetOidcToken().GetAudience() != url("nba-analytics") {
		t.Errorf("push config of player_game_summary = %v", pc)
	}
	arch, err := c.PubSub.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
		Subscription: "projects/" + project + "/subscriptions/nba-deadletter.archive"})
	if err != nil {
		t.Fatal(err)
	}
	if got := arch.GetPushConfig().GetPushEndpoint(); got != url("nba-raw")+"/push/deadletters" {
		t.Errorf("dead-letter archive pushes to %s, want the raw service's /push/deadletters", got)
	}
	attrs, err := c.Storage.Bucket(project + "-nba-props").Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := attrs.Lifecycle.Rules; len(r) != 1 || r[0].Action.Type != "Delete" || r[0].Condition.AgeInDays != 3 ||
		!slices.Equal(r[0].Condition.MatchesPrefix, []string{"_staging/"}) {
		t.Errorf("bucket lifecycle = %+v, want _staging/ deleted at 3 days (dev.json)", r)
	}

	// Applying again changes nothing, and says so.
	f.ResetCalls()
	again, err := deploy.Run(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Mutations(); len(m) > 0 {
		t.Errorf("second apply made %d changing calls, want none: %v", len(m), m)
	}
	if again.Count(deploy.Unchanged) != len(again.Changes) {
		t.Errorf("second apply reports changes:\n%s", again)
	}
	if len(again.Changes) != len(rep.Changes) {
		t.Errorf("second apply looked at %d resources, the first at %d", len(again.Changes), len(rep.Changes))
	}
}

func envOf(c *runpb.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.GetEnv() {
		v := e.GetValue()
		if ref := e.GetValueSource().GetSecretKeyRef(); ref != nil {
			v = "secret " + ref.GetSecret() + " version " + ref.GetVersion()
		}
		m[e.GetName()] = v
	}
	return m
}

func hasMember(f *gcpfake.Fake, resource, role, member string) bool {
	for _, b := range f.Policy(resource).GetBindings() {
		if b.GetRole() == role && slices.Contains(b.GetMembers(), member) {
			return true
		}
	}
	return false
}

func TestApplyRepairsDriftedMaxInstances(t *testing.T) {
	t.Parallel()
	f, c := fake(t)
	ctx := context.Background()
	o := options(t, "dev")
	deploy.Run(ctx, c, o) // stops at the secrets
	addSecretValues(t, c)
	if rep, err := deploy.Run(ctx, c, o); err != nil {
		t.Fatalf("apply: %v\n%s", err, rep)
	}

	// Someone raises nba-raw's max instances in the console.
	name := "projects/" + project + "/locations/" + region + "/services/nba-raw"
	svc, _ := f.Service(name)
	svc.Template.Scaling.MaxInstanceCount = 5
	op, err := c.Services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err == nil {
		_, err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}

	plan := o
	plan.Plan = true
	f.ResetCalls()
	pr, err := deploy.Run(ctx, c, plan)
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Mutations(); len(m) > 0 {
		t.Errorf("plan made changing calls: %v", m)
	}
	want := []deploy.Change{{Kind: "service", Name: "nba-raw", Action: deploy.Update,
		Fields: []deploy.Field{{Name: "scaling.max_instances", Got: "5", Want: "2"}}}}
	if diff := cmp.Diff(want, changed(pr)); diff != "" {
		t.Errorf("plan after drift (-want +got):\n%s", diff)
	}

	f.ResetCalls()
	rep, err := deploy.Run(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, changed(rep)); diff != "" {
		t.Errorf("apply after drift (-want +got):\n%s", diff)
	}
	var got []string
	for _, m := range f.Mutations() {
		got = append(got, m.API+" "+m.Method+" "+m.Resource)
	}
	if diff := cmp.Diff([]string{"run UpdateService " + name}, got); diff != "" {
		t.Errorf("changing calls of the repair (-want +got):\n%s", diff)
	}
	if svc, _ := f.Service(name); svc.GetTemplate().GetScaling().GetMaxInstanceCount() != 2 {
		t.Errorf("max instances after the repair = %d, want 2", svc.GetTemplate().GetScaling().GetMaxInstanceCount())
	}
}

func changed(r deploy.Report) []deploy.Change {
	var out []deploy.Change
	for _, c := range r.Changes {
		if c.Action != deploy.Unchanged {
			out = append(out, c)
		}
	}
	return out
}

func TestMissingPermissionSaysWhatToGrant(t *testing.T) {
	t.Parallel()
	f, c := fake(t)
	f.Fail("CreateServiceAccount", "projects/"+project, status.Error(codes.PermissionDenied,
		"Permission 'iam.serviceAccounts.create' denied on resource (or it may not exist)."))
	_, err := deploy.Run(context.Background(), c, options(t, "dev"))
	var pe *deploy.PermissionError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a PermissionError", err)
	}
	msg := err.Error()
	for _, want := range []string{"create service-account " + sa("nba-scrapers"), "iam.serviceAccounts.create",
		"roles/iam.serviceAccountAdmin", "gcloud projects add-iam-policy-binding " + project} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if m := f.Mutations(); len(m) != 1 {
		t.Errorf("calls that change something after the refusal: %v, want only the refused one", m)
	}
}

func TestPlanOnAnEmptyProjectChangesNothing(t *testing.T) {
	t.Parallel()
	f, c := fake(t)
	o := options(t, "prod")
	o.Plan = true
	rep, err := deploy.Run(context.Background(), c, o)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, rep)
	}
	if m := f.Mutations(); len(m) > 0 {
		t.Errorf("plan made changing calls: %v", m)
	}
	// Everything is to create but the project's policy: the project exists.
	if c, _ := rep.Find("iam-policy", "project "+project); c.Action != deploy.Update || rep.Count(deploy.Create) != len(rep.Changes)-1 {
		t.Errorf("plan on an empty project: %d of %d to create, project policy %s:\n%s", rep.Count(deploy.Create), len(rep.Changes), c.Action, rep)
	}
	off := options(t, "prod")
	off.Offline, off.Plan = true, true
	offline, err := deploy.Run(context.Background(), deploy.Clients{}, off)
	if err != nil {
		t.Fatal(err)
	}
	// The offline plan lists the same resources, save the dataset grants BigQuery would
	// need a client for.
	var online, wantOffline []string
	for _, c := range rep.Changes {
		online = append(online, c.Kind+" "+c.Name)
	}
	for _, c := range offline.Changes {
		if c.Kind != "dataset" && c.Kind != "table" && c.Kind != "dataset-access" {
			wantOffline = append(wantOffline, c.Kind+" "+c.Name)
		}
	}
	if diff := cmp.Diff(wantOffline, online); diff != "" {
		t.Errorf("online plan and offline plan list different resources (-offline +online):\n%s", diff)
	}
}
