package deploy

import (
	"context"
	"fmt"
	"strconv"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"time"
)

// scheduleResource is one Cloud Scheduler job.
type scheduleResource struct {
	e  *engine
	id string
	j  *schedulerpb.Job
}

// schedules are the daily lane (the producer job, run through the Cloud Run Admin API as
// the scheduler account) and one /reconcile call a minute per service (with the push
// account's OIDC token: the consumers accept no other caller).
func (e *engine) schedules() []resource {
	t := e.t
	daily := &schedulerpb.Job{
		Description: "NBA pipeline: the daily lane for the previous game date (runs Cloud Run job " + ProducerJob + ", whose arguments are daily)",
		Schedule:    t.env.Daily.Cron,
		TimeZone:    t.env.Daily.TimeZone,
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{
			Uri:        "https://run.googleapis.com/v2/" + t.parent() + "/jobs/" + ProducerJob + ":run",
			HttpMethod: schedulerpb.HttpMethod_POST,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       []byte("{}"),
			AuthorizationHeader: &schedulerpb.HttpTarget_OauthToken{OauthToken: &schedulerpb.OAuthToken{
				ServiceAccountEmail: t.account(SchedulerAccount), Scope: "https://www.googleapis.com/auth/cloud-platform"}},
		}},
		// The run call only starts an execution; a failed start is tried again.
		RetryConfig:     &schedulerpb.RetryConfig{RetryCount: 3, MinBackoffDuration: durationpb.New(time.Minute), MaxBackoffDuration: durationpb.New(10 * time.Minute), MaxDoublings: 3, MaxRetryDuration: durationpb.New(0)},
		AttemptDeadline: durationpb.New(time.Minute),
	}
	out := []resource{&scheduleResource{e: e, id: DailyScheduler, j: daily}}
	for _, s := range t.services {
		url := t.urls[s.Phase]
		out = append(out, &scheduleResource{e: e, id: ReconcileScheduler(s.Phase), j: &schedulerpb.Job{
			Description: "NBA pipeline: re-send what the ledger promised and nobody is doing (POST /reconcile on " + s.Name + ")",
			Schedule:    t.env.ReconcileSchedule,
			TimeZone:    "Etc/UTC",
			Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{
				Uri:        url + "/reconcile",
				HttpMethod: schedulerpb.HttpMethod_POST,
				AuthorizationHeader: &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{
					ServiceAccountEmail: t.account(PushAccount), Audience: url}},
			}},
			// The next minute's call is the retry.
			RetryConfig:     &schedulerpb.RetryConfig{RetryCount: 0, MinBackoffDuration: durationpb.New(5 * time.Second), MaxBackoffDuration: durationpb.New(time.Minute), MaxDoublings: 1, MaxRetryDuration: durationpb.New(0)},
			AttemptDeadline: durationpb.New(time.Minute),
		}})
	}
	return out
}

func (r *scheduleResource) kind() string { return "scheduler-job" }
func (r *scheduleResource) name() string { return r.id }
func (r *scheduleResource) path() string { return r.e.t.parent() + "/jobs/" + r.id }

func scheduleFields(j *schedulerpb.Job) kv {
	var f kv
	f.set("description", j.GetDescription())
	f.set("schedule", j.GetSchedule()+" ("+j.GetTimeZone()+")")
	h := j.GetHttpTarget()
	f.set("target", h.GetHttpMethod().String()+" "+h.GetUri())
	if len(h.GetBody()) > 0 {
		f.set("body", string(h.GetBody()))
	}
	switch {
	case h.GetOidcToken() != nil:
		f.set("auth", "OIDC token of "+h.GetOidcToken().GetServiceAccountEmail()+" for audience "+h.GetOidcToken().GetAudience())
	case h.GetOauthToken() != nil:
		f.set("auth", "OAuth token of "+h.GetOauthToken().GetServiceAccountEmail()+" for "+h.GetOauthToken().GetScope())
	default:
		f.set("auth", "none")
	}
	rc := j.GetRetryConfig()
	f.set("retry", fmt.Sprintf("%s retries, backoff %s to %s", strconv.Itoa(int(rc.GetRetryCount())),
		rc.GetMinBackoffDuration().AsDuration(), rc.GetMaxBackoffDuration().AsDuration()))
	f.set("attempt_deadline", j.GetAttemptDeadline().AsDuration().String())
	return f
}

func (r *scheduleResource) want() kv { return scheduleFields(r.j) }

func (r *scheduleResource) read(ctx context.Context) (map[string]string, bool, error) {
	got, err := r.e.c.Scheduler.GetJob(ctx, &schedulerpb.GetJobRequest{Name: r.path()})
	if notFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return toMap(scheduleFields(got)), true, nil
}

func (r *scheduleResource) create(ctx context.Context) error {
	j := cloneJob(r.j)
	j.Name = r.path()
	_, err := r.e.c.Scheduler.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: r.e.t.parent(), Job: j})
	return err
}

func (r *scheduleResource) update(ctx context.Context, _ []Field) error {
	j := cloneJob(r.j)
	j.Name = r.path()
	_, err := r.e.c.Scheduler.UpdateJob(ctx, &schedulerpb.UpdateJobRequest{Job: j, UpdateMask: &fieldmaskpb.FieldMask{
		Paths: []string{"description", "schedule", "time_zone", "http_target", "retry_config", "attempt_deadline"}}})
	return err
}
