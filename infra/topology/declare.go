package topology

import (
	"strings"
	"time"

	pushpath "github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/messages"
)

// Retry and dead-letter settings of every job subscription: redelivery backs off from 10 s
// to Pub/Sub's 600 s maximum, and a message that failed MaxDeliveryAttempts times goes to the
// dead-letter topic instead of being retried forever (docs/lessons.md: bounded retries of a
// state; infrastructure is declared).
const (
	MinBackoff          = 10 * time.Second
	MaxBackoff          = 600 * time.Second
	MaxDeliveryAttempts = 5
	// Retention is how long an unacknowledged message waits in a subscription.
	Retention = 7 * 24 * time.Hour
)

// DefaultBucket is the bucket of the local stack.
const DefaultBucket = cloud.LocalProject

// Topic declares one Pub/Sub topic.
type Topic struct {
	ID string
}

// Subscription declares one Pub/Sub pull subscription. Every subscription of the pipeline
// has a retry policy and never expires; all but the dead-letter archive also dead-letter.
type Subscription struct {
	ID     string
	Topic  string
	Filter string
	// Job is the job the subscription feeds, or nil for the catch-alls.
	Job         *messages.JobRef
	AckDeadline time.Duration
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	// DeadLetterTopic is "" only for the subscription on the dead-letter topic itself.
	DeadLetterTopic     string
	MaxDeliveryAttempts int
	Retention           time.Duration
	// Push, when set, makes it a push subscription: Pub/Sub POSTs each message to the
	// endpoint with an OIDC token of the service account for the audience.
	Push *PushTarget
}

// PushTarget is where and as whom a push subscription delivers.
type PushTarget struct {
	Endpoint       string // the service URL and the endpoint path (push.JobPath, ...)
	ServiceAccount string // the account the tokens are signed as (PUSH_SERVICE_ACCOUNT)
	Audience       string // the tokens' aud (PUSH_AUDIENCE): the service URL
}

// Push configures push delivery for an environment; nil options mean pull (streaming
// pull consumers, the local stack's default).
type Push struct {
	// ServiceURL is the base URL of the consumer service that serves a phase's jobs and
	// catch-all ("https://nba-consumers-raw-xyz-uw.a.run.app"); it is also the audience of
	// the tokens that service accepts.
	ServiceURL func(messages.Phase) string
	// DeadLetterURL is the base URL of the service that keeps dead letters.
	DeadLetterURL string
	// ServiceAccount is the push identity Pub/Sub signs tokens as.
	ServiceAccount string
}

// target is the push target of a path on a phase's service.
func (p *Push) target(phase messages.Phase, path string) *PushTarget {
	if p == nil {
		return nil
	}
	base := strings.TrimRight(p.ServiceURL(phase), "/")
	return &PushTarget{Endpoint: base + path, ServiceAccount: p.ServiceAccount, Audience: base}
}

// Topology is everything Apply creates: derived from the job catalogue, so a job added to
// the catalogue gets its subscription on the next apply.
type Topology struct {
	Topics        []Topic
	Subscriptions []Subscription
	Bucket        string
	Datasets      []string
	Tables        []Table
}

// Declare derives the topology of one environment from the catalogue: pull subscriptions,
// or push subscriptions onto the services of push when it is set.
func Declare(c *messages.Catalog, names messages.Names, bucket string, push *Push) Topology {
	dl := names.DeadLetterTopic()
	t := Topology{Bucket: bucket, Datasets: Datasets(), Tables: Tables()}
	for _, p := range messages.Phases() {
		topic := names.Topic(p)
		t.Topics = append(t.Topics, Topic{ID: topic})
		for _, spec := range c.InPhase(p) {
			ref := spec.Ref()
			for _, lane := range messages.Lanes() {
				t.Subscriptions = append(t.Subscriptions, Subscription{
					ID:                  names.LaneSubscription(ref, lane),
					Topic:               topic,
					Filter:              messages.Filter(ref, lane),
					Job:                 &ref,
					AckDeadline:         spec.AckDeadline(),
					MinBackoff:          MinBackoff,
					MaxBackoff:          MaxBackoff,
					DeadLetterTopic:     dl,
					MaxDeliveryAttempts: MaxDeliveryAttempts,
					Retention:           Retention,
					Push:                push.target(p, pushpath.LanePath(ref, lane)),
				})
			}
		}
		// The catch-all: Pub/Sub drops a message no filter matches, so this one matches all.
		t.Subscriptions = append(t.Subscriptions, Subscription{
			ID:                  names.UnroutableSubscription(p),
			Topic:               topic,
			AckDeadline:         60 * time.Second,
			MinBackoff:          MinBackoff,
			MaxBackoff:          MaxBackoff,
			DeadLetterTopic:     dl,
			MaxDeliveryAttempts: MaxDeliveryAttempts,
			Retention:           Retention,
			Push:                push.target(p, pushpath.UnroutablePath(p)),
		})
	}
	t.Topics = append(t.Topics, Topic{ID: dl})
	var dlPush *PushTarget
	if push != nil {
		base := strings.TrimRight(push.DeadLetterURL, "/")
		dlPush = &PushTarget{Endpoint: base + pushpath.DeadLetterPath, ServiceAccount: push.ServiceAccount, Audience: base}
	}
	t.Subscriptions = append(t.Subscriptions, Subscription{
		ID:          names.DeadLetterSubscription(),
		Topic:       dl,
		AckDeadline: 60 * time.Second,
		MinBackoff:  MinBackoff,
		MaxBackoff:  MaxBackoff,
		Retention:   Retention,
		Push:        dlPush,
	})
	return t
}
