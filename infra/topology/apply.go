package topology

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/messages"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// ErrImmutable reports a drifted setting that cannot be changed in place (a subscription's
// topic or filter, a table's partitioning, a column's type). The error names the resource;
// delete it and apply again, after draining it if it holds work.
var ErrImmutable = errors.New("setting cannot be changed in place")

// Clients are the clients Apply uses. PubSub is required; the bucket is skipped without
// Storage and the datasets and tables without BigQuery.
type Clients struct {
	PubSub   *pubsub.Client
	Storage  *storage.Client
	BigQuery *bigquery.Client
}

// Options select what Apply declares.
type Options struct {
	// Catalog defaults to messages.DefaultCatalog().
	Catalog *messages.Catalog
	// Names carries the environment's topic prefix.
	Names messages.Names
	// Bucket defaults to DefaultBucket.
	Bucket string
	// Location of a new bucket and new datasets ("" lets the service choose; "US" in production).
	Location string
	// Push makes every subscription a push subscription onto the consumer services; nil
	// means pull.
	Push *Push
	// DryRun reads and compares but changes nothing: the Report says what Apply would do
	// (Created for a missing resource, Updated with the settings that differ).
	DryRun bool
}

// Action is what Apply did to one resource.
type Action string

// Actions in a Report.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
)

// Change is one line of a Report.
type Change struct {
	Kind   string // topic, subscription, bucket, dataset, table
	Name   string
	Action Action
	// Detail lists the settings that were updated.
	Detail string
}

// Report lists every resource Apply looked at, in order.
type Report struct {
	Changes []Change
}

// Count is the number of resources with action a.
func (r Report) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// String is a table for a terminal, one resource per line, then the totals.
func (r Report) String() string {
	var b strings.Builder
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%-9s %-12s %s", c.Action, c.Kind, c.Name)
		if c.Detail != "" {
			fmt.Fprintf(&b, " (%s)", c.Detail)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%d created, %d updated, %d unchanged\n", r.Count(Created), r.Count(Updated), r.Count(Unchanged))
	return b.String()
}

// Apply creates what is missing and updates what drifted, so running it twice changes
// nothing the second time. It stops at the first error, returning what it did so far.
func Apply(ctx context.Context, c Clients, o Options) (Report, error) {
	if c.PubSub == nil {
		return Report{}, errors.New("topology: a pubsub client is required")
	}
	if o.Catalog == nil {
		o.Catalog = messages.DefaultCatalog()
	}
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	t := Declare(o.Catalog, o.Names, o.Bucket, o.Push)
	a := applier{c: c, o: o, project: c.PubSub.Project()}
	for _, tp := range t.Topics {
		if err := a.topic(ctx, tp); err != nil {
			return a.r, err
		}
	}
	for _, s := range t.Subscriptions {
		if err := a.subscription(ctx, s); err != nil {
			return a.r, err
		}
	}
	if c.Storage != nil {
		if err := a.bucket(ctx, t.Bucket); err != nil {
			return a.r, err
		}
	}
	if c.BigQuery != nil {
		for _, d := range t.Datasets {
			if err := a.dataset(ctx, d); err != nil {
				return a.r, err
			}
		}
		for _, tb := range t.Tables {
			if err := a.table(ctx, tb); err != nil {
				return a.r, err
			}
		}
	}
	return a.r, nil
}

type applier struct {
	c       Clients
	o       Options
	project string
	r       Report
}

func (a *applier) add(kind, name string, act Action, detail ...string) {
	a.r.Changes = append(a.r.Changes, Change{Kind: kind, Name: name, Action: act, Detail: strings.Join(detail, ", ")})
}

func (a *applier) topicName(id string) string { return "projects/" + a.project + "/topics/" + id }

func (a *applier) topic(ctx context.Context, t Topic) error {
	name := a.topicName(t.ID)
	_, err := a.c.PubSub.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: name})
	switch status.Code(err) {
	case codes.OK:
		a.add("topic", t.ID, Unchanged)
		return nil
	case codes.NotFound:
	default:
		return fmt.Errorf("get topic %s: %w", t.ID, err)
	}
	if a.o.DryRun {
		a.add("topic", t.ID, Created)
		return nil
	}
	_, err = a.c.PubSub.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
	if status.Code(err) == codes.AlreadyExists { // created concurrently by another apply
		a.add("topic", t.ID, Unchanged)
		return nil
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", t.ID, err)
	}
	a.add("topic", t.ID, Created)
	return nil
}

// want is the subscription as the service should hold it.
func (a *applier) want(s Subscription) *pubsubpb.Subscription {
	p := &pubsubpb.Subscription{
		Name:                     "projects/" + a.project + "/subscriptions/" + s.ID,
		Topic:                    a.topicName(s.Topic),
		Filter:                   s.Filter,
		AckDeadlineSeconds:       int32(s.AckDeadline.Seconds()),
		MessageRetentionDuration: durationpb.New(s.Retention),
		// A TTL-less expiration policy means "never expire": the default deletes a
		// subscription after 31 idle days, which is how consumers went dark for a week.
		ExpirationPolicy: &pubsubpb.ExpirationPolicy{},
		RetryPolicy: &pubsubpb.RetryPolicy{
			MinimumBackoff: durationpb.New(s.MinBackoff),
			MaximumBackoff: durationpb.New(s.MaxBackoff),
		},
		Labels: map[string]string{"managed-by": "nba-topology"},
	}
	if s.DeadLetterTopic != "" {
		p.DeadLetterPolicy = &pubsubpb.DeadLetterPolicy{
			DeadLetterTopic:     a.topicName(s.DeadLetterTopic),
			MaxDeliveryAttempts: int32(s.MaxDeliveryAttempts),
		}
	}
	if s.Push != nil {
		p.PushConfig = &pubsubpb.PushConfig{
			PushEndpoint: s.Push.Endpoint,
			AuthenticationMethod: &pubsubpb.PushConfig_OidcToken_{OidcToken: &pubsubpb.PushConfig_OidcToken{
				ServiceAccountEmail: s.Push.ServiceAccount, Audience: s.Push.Audience}},
			// The wrapped form: the runtime reads attributes and the delivery attempt from it.
			Wrapper: &pubsubpb.PushConfig_PubsubWrapper_{PubsubWrapper: &pubsubpb.PushConfig_PubsubWrapper{}},
		}
	}
	return p
}

func (a *applier) subscription(ctx context.Context, s Subscription) error {
	want := a.want(s)
	sc := a.c.PubSub.SubscriptionAdminClient
	got, err := sc.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: want.Name})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound:
		if a.o.DryRun {
			a.add("subscription", s.ID, Created)
			return nil
		}
		_, err := sc.CreateSubscription(ctx, want)
		if err != nil {
			return fmt.Errorf("create subscription %s: %w", s.ID, err)
		}
		a.add("subscription", s.ID, Created)
		return nil
	default:
		return fmt.Errorf("get subscription %s: %w", s.ID, err)
	}

	if got.Topic != want.Topic {
		return fmt.Errorf("subscription %s reads topic %s, declared %s: %w", s.ID, got.Topic, want.Topic, ErrImmutable)
	}
	if got.Filter != want.Filter {
		return fmt.Errorf("subscription %s has filter %q, declared %q: %w", s.ID, got.Filter, want.Filter, ErrImmutable)
	}
	var paths []string
	if got.AckDeadlineSeconds != want.AckDeadlineSeconds {
		paths = append(paths, "ack_deadline_seconds")
	}
	if !proto.Equal(got.MessageRetentionDuration, want.MessageRetentionDuration) {
		paths = append(paths, "message_retention_duration")
	}
	if got.ExpirationPolicy.GetTtl() != nil || got.ExpirationPolicy == nil {
		paths = append(paths, "expiration_policy")
	}
	if !proto.Equal(got.RetryPolicy, want.RetryPolicy) {
		paths = append(paths, "retry_policy")
	}
	if !proto.Equal(got.DeadLetterPolicy, want.DeadLetterPolicy) {
		paths = append(paths, "dead_letter_policy")
	}
	if !maps.Equal(got.Labels, want.Labels) {
		paths = append(paths, "labels")
	}
	if got.GetPushConfig().GetPushEndpoint() != want.GetPushConfig().GetPushEndpoint() ||
		!proto.Equal(got.GetPushConfig().GetOidcToken(), want.GetPushConfig().GetOidcToken()) {
		paths = append(paths, "push_config")
		if want.PushConfig == nil {
			want.PushConfig = &pubsubpb.PushConfig{} // an empty push config turns push off
		}
	}
	if len(paths) == 0 {
		a.add("subscription", s.ID, Unchanged)
		return nil
	}
	if a.o.DryRun {
		a.add("subscription", s.ID, Updated, paths...)
		return nil
	}
	_, err = sc.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
		Subscription: want,
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: paths},
	})
	if err != nil {
		return fmt.Errorf("update subscription %s (%s): %w", s.ID, strings.Join(paths, ", "), err)
	}
	a.add("subscription", s.ID, Updated, paths...)
	return nil
}

func (a *applier) bucket(ctx context.Context, name string) error {
	b := a.c.Storage.Bucket(name)
	_, err := b.Attrs(ctx)
	switch {
	case err == nil:
		a.add("bucket", name, Unchanged)
		return nil
	case errors.Is(err, storage.ErrBucketNotExist):
	default:
		return fmt.Errorf("bucket %s: %w", name, err)
	}
	if a.o.DryRun {
		a.add("bucket", name, Created)
		return nil
	}
	attrs := &storage.BucketAttrs{Location: a.o.Location, UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true}}
	if err := b.Create(ctx, a.project, attrs); err != nil {
		if isHTTP(err, http.StatusConflict) {
			a.add("bucket", name, Unchanged)
			return nil
		}
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	a.add("bucket", name, Created)
	return nil
}

func (a *applier) dataset(ctx context.Context, id string) error {
	d := a.c.BigQuery.Dataset(id)
	_, err := d.Metadata(ctx)
	switch {
	case err == nil:
		a.add("dataset", id, Unchanged)
		return nil
	case isHTTP(err, http.StatusNotFound):
	default:
		return fmt.Errorf("dataset %s: %w", id, err)
	}
	if a.o.DryRun {
		a.add("dataset", id, Created)
		return nil
	}
	if err := d.Create(ctx, &bigquery.DatasetMetadata{Location: a.o.Location}); err != nil {
		if isHTTP(err, http.StatusConflict) {
			a.add("dataset", id, Unchanged)
			return nil
		}
		return fmt.Errorf("create dataset %s: %w", id, err)
	}
	a.add("dataset", id, Created)
	return nil
}

func (a *applier) table(ctx context.Context, t Table) error {
	tr := a.c.BigQuery.Dataset(t.Dataset).Table(t.Name)
	md, err := tr.Metadata(ctx)
	switch {
	case err == nil:
	case isHTTP(err, http.StatusNotFound):
		if a.o.DryRun {
			a.add("table", t.FullName(), Created)
			return nil
		}
		if err := tr.Create(ctx, tableMetadata(t)); err != nil {
			if isHTTP(err, http.StatusConflict) {
				a.add("table", t.FullName(), Unchanged)
				return nil
			}
			return fmt.Errorf("create table %s: %w", t.FullName(), err)
		}
		a.add("table", t.FullName(), Created)
		return nil
	default:
		return fmt.Errorf("table %s: %w", t.FullName(), err)
	}

	if got, want := partitionField(md), t.PartitionField; got != want {
		return fmt.Errorf("table %s is partitioned on %q, declared %q: %w", t.FullName(), got, want, ErrImmutable)
	}
	var upd bigquery.TableMetadataToUpdate
	var changed []string
	schema, err := mergeSchema(t.FullName(), md.Schema, t.Schema)
	if err != nil {
		return err
	}
	if schema != nil {
		upd.Schema = schema
		changed = append(changed, "schema")
	}
	if md.Description != t.Description {
		upd.Description = t.Description
		changed = append(changed, "description")
	}
	if md.RequirePartitionFilter != t.RequirePartitionFilter {
		upd.RequirePartitionFilter = t.RequirePartitionFilter
		changed = append(changed, "require_partition_filter")
	}
	var gotClustering []string
	if md.Clustering != nil {
		gotClustering = md.Clustering.Fields
	}
	if !slices.Equal(gotClustering, t.Clustering) {
		upd.Clustering = &bigquery.Clustering{Fields: t.Clustering}
		changed = append(changed, "clustering")
	}
	if len(changed) == 0 {
		a.add("table", t.FullName(), Unchanged)
		return nil
	}
	if a.o.DryRun {
		a.add("table", t.FullName(), Updated, changed...)
		return nil
	}
	if _, err := tr.Update(ctx, upd, md.ETag); err != nil {
		return fmt.Errorf("update table %s (%s): %w", t.FullName(), strings.Join(changed, ", "), err)
	}
	a.add("table", t.FullName(), Updated, changed...)
	return nil
}

func tableMetadata(t Table) *bigquery.TableMetadata {
	md := &bigquery.TableMetadata{
		Description:            t.Description,
		Schema:                 t.Schema,
		RequirePartitionFilter: t.RequirePartitionFilter,
	}
	if t.PartitionField != "" {
		md.TimePartitioning = &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: t.PartitionField}
	}
	if len(t.Clustering) > 0 {
		md.Clustering = &bigquery.Clustering{Fields: t.Clustering}
	}
	return md
}

func partitionField(md *bigquery.TableMetadata) string {
	if md.TimePartitioning == nil {
		return ""
	}
	return md.TimePartitioning.Field
}

// mergeSchema returns the schema to update to when want adds columns to got, nil when they
// match, and ErrImmutable when a column changed type or mode or disappeared (BigQuery only
// adds nullable columns in place).
func mergeSchema(table string, got, want bigquery.Schema) (bigquery.Schema, error) {
	have := map[string]*bigquery.FieldSchema{}
	for _, f := range got {
		have[strings.ToLower(f.Name)] = f
	}
	declared := map[string]bool{}
	var added bool
	for _, f := range want {
		declared[strings.ToLower(f.Name)] = true
		g, ok := have[strings.ToLower(f.Name)]
		if !ok {
			if f.Required {
				return nil, fmt.Errorf("table %s: new column %s must be nullable: %w", table, f.Name, ErrImmutable)
			}
			added = true
			continue
		}
		if g.Type != f.Type || g.Repeated != f.Repeated || g.Required != f.Required {
			return nil, fmt.Errorf("table %s column %s is %s, declared %s: %w", table, f.Name, describe(g), describe(f), ErrImmutable)
		}
	}
	for _, f := range got {
		if !declared[strings.ToLower(f.Name)] {
			return nil, fmt.Errorf("table %s has column %s that is not declared: %w", table, f.Name, ErrImmutable)
		}
	}
	if !added {
		return nil, nil
	}
	// Keep the existing columns in their order and append the new ones.
	merged := slices.Clone(got)
	for _, f := range want {
		if _, ok := have[strings.ToLower(f.Name)]; !ok {
			merged = append(merged, f)
		}
	}
	return merged, nil
}

func describe(f *bigquery.FieldSchema) string {
	mode := "NULLABLE"
	switch {
	case f.Repeated:
		mode = "REPEATED"
	case f.Required:
		mode = "REQUIRED"
	}
	return string(f.Type) + " " + mode
}

func isHTTP(err error, code int) bool {
	var e *googleapi.Error
	return errors.As(err, &e) && e.Code == code
}
