package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nba-props/pipeline/consumers/raw"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"github.com/nba-props/pipeline/messages"
)

// lifecycleResource is the bucket's lifecycle: a raw job's staging NDJSON is deleted
// once its load is long done. Everything else (raw files, the ledger, dead letters) is
// kept.
type lifecycleResource struct {
	e *engine
}

func (e *engine) lifecycle() resource { return &lifecycleResource{e: e} }

func (r *lifecycleResource) kind() string { return "bucket-lifecycle" }
func (r *lifecycleResource) name() string { return r.e.t.bucket }

func (r *lifecycleResource) rules() []storage.LifecycleRule {
	return []storage.LifecycleRule{{
		Action:    storage.LifecycleAction{Type: storage.DeleteAction},
		Condition: storage.LifecycleCondition{AgeInDays: int64(r.e.t.env.StagingTTLDays), MatchesPrefix: []string{raw.StagingPrefix}},
	}}
}

func ruleStrings(rules []storage.LifecycleRule) string {
	var out []string
	for _, r := range rules {
		out = append(out, fmt.Sprintf("%s objects under %s at %d days", r.Action.Type,
			strings.Join(r.Condition.MatchesPrefix, ", "), r.Condition.AgeInDays))
	}
	return strings.Join(out, "; ")
}

func (r *lifecycleResource) want() kv {
	var f kv
	f.set("rules", ruleStrings(r.rules()))
	return f
}

func (r *lifecycleResource) read(ctx context.Context) (map[string]string, bool, error) {
	a, err := r.e.c.Storage.Bucket(r.e.t.bucket).Attrs(ctx)
	if notFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return map[string]string{"rules": ruleStrings(a.Lifecycle.Rules)}, true, nil
}

func (r *lifecycleResource) create(ctx context.Context) error { return r.update(ctx, nil) }

func (r *lifecycleResource) update(ctx context.Context, _ []Field) error {
	_, err := r.e.c.Storage.Bucket(r.e.t.bucket).Update(ctx, storage.BucketAttrsToUpdate{Lifecycle: &storage.Lifecycle{Rules: r.rules()}})
	return err
}

// datasetResource holds deploy's grants among a dataset's access entries: BigQuery keeps
// dataset-level roles there rather than in an IAM policy, and reports a role granted as
// roles/bigquery.dataEditor back as WRITER.
type datasetResource struct {
	e       *engine
	dataset string
	grants  map[string][]string // role → service account emails
	md      *bigquery.DatasetMetadata
}

// datasetAccess: each BigQuery phase edits the dataset of its phase (nba_<phase>) and
// reads those of its jobs' upstream phases, from the catalogue's edges.
func (e *engine) datasetAccess() []resource {
	t := e.t
	bq := bigQueryPhases()
	grants := map[string]map[string][]string{}
	grant := func(ds, role, email string) {
		if grants[ds] == nil {
			grants[ds] = map[string][]string{}
		}
		if !slices.Contains(grants[ds][role], email) {
			grants[ds][role] = append(grants[ds][role], email)
		}
	}
	for _, s := range t.services {
		if !bq[s.Phase] {
			continue
		}
		email := t.account(s.ServiceAccount)
		grant(phaseDataset(s.Phase), string(bigquery.WriterRole), email)
		for _, j := range s.Jobs {
			for _, u := range j.Upstreams() {
				if u.Phase != s.Phase && bq[u.Phase] {
					grant(phaseDataset(u.Phase), string(bigquery.ReaderRole), email)
				}
			}
		}
	}
	var out []resource
	for _, ds := range sortedKeys(grants) {
		out = append(out, &datasetResource{e: e, dataset: ds, grants: grants[ds]})
	}
	return out
}

// phaseDataset is the dataset a phase writes: nba_raw, nba_reference, nba_analytics.
func phaseDataset(p messages.Phase) string { return "nba_" + string(p) }

// roleNames are BigQuery's legacy dataset roles and the IAM roles they stand for.
var roleNames = map[bigquery.AccessRole]string{
	bigquery.OwnerRole:  "roles/bigquery.dataOwner",
	bigquery.WriterRole: "roles/bigquery.dataEditor",
	bigquery.ReaderRole: "roles/bigquery.dataViewer",
}

func roleName(r bigquery.AccessRole) string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return string(r)
}

func (r *datasetResource) kind() string { return "dataset-access" }
func (r *datasetResource) name() string { return r.dataset }

func (r *datasetResource) want() kv {
	var f kv
	for _, role := range sortedKeys(r.grants) {
		f.set(roleName(bigquery.AccessRole(role)), strings.Join(sorted(r.grants[role]), ", "))
	}
	return f
}

func (r *datasetResource) read(ctx context.Context) (map[string]string, bool, error) {
	md, err := r.e.c.BigQuery.Dataset(r.dataset).Metadata(ctx)
	if notFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	r.md = md
	got := map[string]string{}
	for role, emails := range r.grants {
		var have []string
		for _, a := range md.Access {
			if roleName(a.Role) == roleName(bigquery.AccessRole(role)) && slices.Contains(emails, a.Entity) {
				have = append(have, a.Entity)
			}
		}
		got[roleName(bigquery.AccessRole(role))] = strings.Join(sorted(have), ", ")
	}
	return got, true, nil
}

func (r *datasetResource) create(ctx context.Context) error {
	md, err := r.e.c.BigQuery.Dataset(r.dataset).Metadata(ctx)
	if err != nil {
		return err
	}
	r.md = md
	return r.update(ctx, nil)
}

func (r *datasetResource) update(ctx context.Context, _ []Field) error {
	access := slices.Clone(r.md.Access)
	for role, emails := range r.grants {
		for _, email := range emails {
			if !slices.ContainsFunc(access, func(a *bigquery.AccessEntry) bool {
				return roleName(a.Role) == roleName(bigquery.AccessRole(role)) && a.Entity == email
			}) {
				access = append(access, &bigquery.AccessEntry{Role: bigquery.AccessRole(role), EntityType: bigquery.UserEmailEntity, Entity: email})
			}
		}
	}
	_, err := r.e.c.BigQuery.Dataset(r.dataset).Update(ctx, bigquery.DatasetMetadataToUpdate{Access: access}, r.md.ETag)
	return err
}
