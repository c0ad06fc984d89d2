package deploy

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/nba-props/pipeline/infra/cloud"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Probes of a consumer service. The startup probe allows four minutes (24 × 10 s) for
// /readyz, which answers once the instance's Pub/Sub, GCS and BigQuery clients do: on a
// first deploy the grants it needs may take a minute or two to propagate. /healthz only
// says the process serves.
var (
	startupProbe  = probe{path: "/readyz", period: 10, timeout: 5, failures: 24}
	livenessProbe = probe{path: "/healthz", period: 30, timeout: 5, failures: 3}
)

type probe struct {
	path                      string
	period, timeout, failures int32
}

func (p probe) proto() *runpb.Probe {
	return &runpb.Probe{PeriodSeconds: p.period, TimeoutSeconds: p.timeout, FailureThreshold: p.failures,
		ProbeType: &runpb.Probe_HttpGet{HttpGet: &runpb.HTTPGetAction{Path: p.path, Port: ContainerPort}}}
}

func probeString(p *runpb.Probe) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("GET %s on %d every %ds, timeout %ds, %d failures", p.GetHttpGet().GetPath(), p.GetHttpGet().GetPort(),
		p.GetPeriodSeconds(), p.GetTimeoutSeconds(), p.GetFailureThreshold())
}

// env is a container's environment: plain values and secret references.
type env []*runpb.EnvVar

func (e *env) plain(name, value string) {
	*e = append(*e, &runpb.EnvVar{Name: name, Values: &runpb.EnvVar_Value{Value: value}})
}

func (e *env) secret(name, secret string) {
	*e = append(*e, &runpb.EnvVar{Name: name, Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{
		SecretKeyRef: &runpb.SecretKeySelector{Secret: secret, Version: "latest"}}}})
}

// serviceEnv is the environment of a phase's service: where its clients point, push mode
// for its phase with the identity it accepts, and for the scrapers the per-instance rates
// and the API keys from Secret Manager.
func (t *target) serviceEnv(s Service) env {
	var e env
	e.plain(cloud.ProjectEnv, t.project)
	e.plain(cloud.BucketEnv, t.bucket)
	e.plain("CONSUMER_MODE", "push")
	e.plain("CONSUMER_PHASES", string(s.Phase))
	e.plain("CONSUMER_DEADLETTERS", strconv.FormatBool(s.DeadLetters))
	e.plain("PUSH_AUDIENCE", t.urls[s.Phase])
	e.plain("PUSH_SERVICE_ACCOUNT", t.account(PushAccount))
	e.plain("GOMEMLIMIT", s.goMemLimit)
	for _, v := range sortedKeys(s.Rates) {
		e.plain(v, formatRate(s.Rates[v]))
	}
	for _, v := range s.Secrets {
		e.secret(v, SecretName(v))
	}
	return e
}

// serviceProto is the declared Cloud Run service of a phase.
func (t *target) serviceProto(s Service, image string) *runpb.Service {
	return &runpb.Service{
		Description: fmt.Sprintf("NBA pipeline: the %s phase's push endpoints (%d jobs)", s.Phase, len(s.Jobs)),
		Labels:      map[string]string{"managed-by": managedBy, "phase": string(s.Phase)},
		// Pub/Sub push and Cloud Scheduler reach an internal service; nothing else needs to.
		Ingress:            runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY,
		InvokerIamDisabled: false,
		Template: &runpb.RevisionTemplate{
			Scaling:                       &runpb.RevisionScaling{MinInstanceCount: int32(s.MinInstances), MaxInstanceCount: int32(s.MaxInstances)},
			Timeout:                       durationpb.New(s.RequestTimeout),
			ServiceAccount:                t.account(s.ServiceAccount),
			MaxInstanceRequestConcurrency: int32(s.ContainerConcurrency),
			Containers: []*runpb.Container{{
				Name:  ConsumersBinary,
				Image: image,
				Env:   t.serviceEnv(s),
				Resources: &runpb.ResourceRequirements{
					Limits: map[string]string{"cpu": s.CPU, "memory": s.Memory},
					// Nothing runs between requests: Cloud Scheduler's /reconcile call does the
					// periodic work, so the CPU may be throttled while idle.
					CpuIdle:         true,
					StartupCpuBoost: true,
				},
				Ports:         []*runpb.ContainerPort{{Name: "http1", ContainerPort: ContainerPort}},
				StartupProbe:  startupProbe.proto(),
				LivenessProbe: livenessProbe.proto(),
			}},
		},
	}
}

// serviceFields flattens the settings deploy declares of a service, so a plan shows each
// and a drift names it.
func serviceFields(s *runpb.Service) kv {
	var f kv
	f.set("ingress", s.GetIngress().String())
	f.set("invoker_iam_disabled", strconv.FormatBool(s.GetInvokerIamDisabled()))
	f.set("labels", labels(s.GetLabels()))
	tm := s.GetTemplate()
	f.set("service_account", tm.GetServiceAccount())
	f.set("scaling.min_instances", strconv.Itoa(int(tm.GetScaling().GetMinInstanceCount())))
	f.set("scaling.max_instances", strconv.Itoa(int(tm.GetScaling().GetMaxInstanceCount())))
	f.set("timeout", tm.GetTimeout().AsDuration().String())
	f.set("container_concurrency", strconv.Itoa(int(tm.GetMaxInstanceRequestConcurrency())))
	containerFields(&f, tm.GetContainers())
	return f
}

func containerFields(f *kv, cs []*runpb.Container) {
	if len(cs) != 1 {
		f.set("containers", strconv.Itoa(len(cs)))
		return
	}
	c := cs[0]
	f.set("image", c.GetImage())
	if len(c.GetArgs()) > 0 {
		f.set("args", strings.Join(c.GetArgs(), " "))
	}
	f.set("cpu", c.GetResources().GetLimits()["cpu"])
	f.set("memory", c.GetResources().GetLimits()["memory"])
	if p := c.GetPorts(); len(p) > 0 {
		f.set("port", strconv.Itoa(int(p[0].GetContainerPort())))
		f.set("cpu_idle", strconv.FormatBool(c.GetResources().GetCpuIdle()))
		f.set("startup_cpu_boost", strconv.FormatBool(c.GetResources().GetStartupCpuBoost()))
		f.set("startup_probe", probeString(c.GetStartupProbe()))
		f.set("liveness_probe", probeString(c.GetLivenessProbe()))
	}
	envs := slices.Clone(c.GetEnv())
	slices.SortFunc(envs, func(a, b *runpb.EnvVar) int { return strings.Compare(a.GetName(), b.GetName()) })
	for _, e := range envs {
		v := e.GetValue()
		if ref := e.GetValueSource().GetSecretKeyRef(); ref != nil {
			v = "secret " + ref.GetSecret() + " version " + ref.GetVersion()
		}
		f.set("env."+e.GetName(), v)
	}
}

func toMap(f kv) map[string]string {
	m := map[string]string{}
	for _, x := range f {
		m[x.Name] = x.Want
	}
	return m
}

// serviceResource is the Cloud Run service of one phase.
type serviceResource struct {
	e     *engine
	s     Service
	image string // the image found on the service, kept when no digest was given
}

func (e *engine) service(s Service) resource { return &serviceResource{e: e, s: s} }

func (r *serviceResource) kind() string { return "service" }
func (r *serviceResource) name() string { return r.s.Name }
func (r *serviceResource) path() string { return r.e.t.parent() + "/services/" + r.s.Name }

func (r *serviceResource) declared() *runpb.Service {
	img := r.e.t.image(ConsumersBinary)
	if img == "" {
		img = r.image
	}
	if img == "" {
		img = r.e.t.repo + "/" + ConsumersBinary + "@<digest>"
	}
	return r.e.t.serviceProto(r.s, img)
}

func (r *serviceResource) want() kv {
	f := serviceFields(r.declared())
	f.set("url", r.e.t.urls[r.s.Phase])
	return f
}

func (r *serviceResource) read(ctx context.Context) (map[string]string, bool, error) {
	got, err := r.e.c.Services.GetService(ctx, &runpb.GetServiceRequest{Name: r.path()})
	if notFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if cs := got.GetTemplate().GetContainers(); len(cs) == 1 {
		r.image = cs[0].GetImage()
	}
	m := toMap(serviceFields(got))
	m["url"] = r.urlOf(got)
	return m, true, nil
}

// urlOf is the declared URL if the service answers on it: Cloud Run lists both its
// deterministic and its older URL.
func (r *serviceResource) urlOf(s *runpb.Service) string {
	want := r.e.t.urls[r.s.Phase]
	if slices.Contains(s.GetUrls(), want) || s.GetUri() == want {
		return want
	}
	return s.GetUri()
}

func (r *serviceResource) checkURL(s *runpb.Service) error {
	if got := r.urlOf(s); got != r.e.t.urls[r.s.Phase] && len(s.GetUrls()) > 0 {
		return fmt.Errorf("service %s answers at %s, not at the deterministic URL %s that PUSH_AUDIENCE and the push subscriptions use: "+
			"a service name this long or a project with deterministic URLs turned off cannot take push subscriptions from deploy; rename the service",
			r.s.Name, strings.Join(s.GetUrls(), ", "), r.e.t.urls[r.s.Phase])
	}
	return nil
}

func (r *serviceResource) create(ctx context.Context) error {
	if r.e.t.image(ConsumersBinary) == "" {
		return fmt.Errorf("no image: pass --image-digest %s=sha256:... as `infra image --push` prints it", ConsumersBinary)
	}
	op, err := r.e.c.Services.CreateService(ctx, &runpb.CreateServiceRequest{
		Parent: r.e.t.parent(), ServiceId: r.s.Name, Service: r.declared()})
	if err != nil {
		return err
	}
	s, err := op.Wait(ctx)
	if err != nil {
		return err
	}
	return r.checkURL(s)
}

func (r *serviceResource) update(ctx context.Context, _ []Field) error {
	want := r.declared()
	want.Name = r.path()
	op, err := r.e.c.Services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: want})
	if err != nil {
		return err
	}
	s, err := op.Wait(ctx)
	if err != nil {
		return err
	}
	return r.checkURL(s)
}

// producerResource is the producer's Cloud Run job. Its default arguments run the daily
// lane, so Cloud Scheduler runs it without overrides (and needs only run.invoker);
// `gcloud run jobs execute nba-producer --args=enqueue,...` runs anything else.
type producerResource struct {
	e     *engine
	image string
}

func (e *engine) producerJob() resource { return &producerResource{e: e} }

// DailyArgs are the producer job's default arguments: the daily lane for the previous
// game date.
var DailyArgs = []string{"daily"}

func (r *producerResource) kind() string { return "job" }
func (r *producerResource) name() string { return ProducerJob }
func (r *producerResource) path() string { return r.e.t.parent() + "/jobs/" + ProducerJob }

func (r *producerResource) declared() *runpb.Job {
	t := r.e.t
	img := t.image(ProducerBinary)
	if img == "" {
		img = r.image
	}
	if img == "" {
		img = t.repo + "/" + ProducerBinary + "@<digest>"
	}
	var e env
	e.plain(cloud.ProjectEnv, t.project)
	e.plain(cloud.BucketEnv, t.bucket)
	p := t.env.Producer
	e.plain("GOMEMLIMIT", p.goMemLimit)
	return &runpb.Job{
		Labels: map[string]string{"managed-by": managedBy},
		Template: &runpb.ExecutionTemplate{
			TaskCount: 1, Parallelism: 1,
			Template: &runpb.TaskTemplate{
				ServiceAccount: t.account(ProducerAccount),
				Timeout:        durationpb.New(time.Duration(p.Timeout)),
				Retries:        &runpb.TaskTemplate_MaxRetries{MaxRetries: int32(p.MaxRetries)},
				Containers: []*runpb.Container{{
					Name: ProducerBinary, Image: img, Args: DailyArgs, Env: e,
					Resources: &runpb.ResourceRequirements{Limits: map[string]string{"cpu": p.CPU, "memory": p.Memory}},
				}},
			},
		},
	}
}

func jobFields(j *runpb.Job) kv {
	var f kv
	f.set("labels", labels(j.GetLabels()))
	tt := j.GetTemplate().GetTemplate()
	f.set("tasks", fmt.Sprintf("%d (parallelism %d)", j.GetTemplate().GetTaskCount(), j.GetTemplate().GetParallelism()))
	f.set("service_account", tt.GetServiceAccount())
	f.set("timeout", tt.GetTimeout().AsDuration().String())
	f.set("max_retries", strconv.Itoa(int(tt.GetMaxRetries())))
	containerFields(&f, tt.GetContainers())
	return f
}

func (r *producerResource) want() kv { return jobFields(r.declared()) }

func (r *producerResource) read(ctx context.Context) (map[string]string, bool, error) {
	got, err := r.e.c.Jobs.GetJob(ctx, &runpb.GetJobRequest{Name: r.path()})
	if notFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if cs := got.GetTemplate().GetTemplate().GetContainers(); len(cs) == 1 {
		r.image = cs[0].GetImage()
	}
	return toMap(jobFields(got)), true, nil
}

func (r *producerResource) create(ctx context.Context) error {
	if r.e.t.image(ProducerBinary) == "" {
		return fmt.Errorf("no image: pass --image-digest %s=sha256:... as `infra image --push` prints it", ProducerBinary)
	}
	op, err := r.e.c.Jobs.CreateJob(ctx, &runpb.CreateJobRequest{Parent: r.e.t.parent(), JobId: ProducerJob, Job: r.declared()})
	if err != nil {
		return err
	}
	_, err = op.Wait(ctx)
	return err
}

func (r *producerResource) update(ctx context.Context, _ []Field) error {
	want := r.declared()
	want.Name = r.path()
	op, err := r.e.c.Jobs.UpdateJob(ctx, &runpb.UpdateJobRequest{Job: want})
	if err != nil {
		return err
	}
	_, err = op.Wait(ctx)
	return err
}
