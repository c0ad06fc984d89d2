package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// accountResource is one service account.
type accountResource struct {
	e           *engine
	id          string
	display     string
	description string
}

// accounts are the service accounts: one per consumer service (as the phases' settings
// name them), the producer's, the push account and the scheduler's.
func (e *engine) accounts() []resource {
	var out []resource
	seen := map[string]bool{}
	add := func(id, display, description string) {
		if seen[id] {
			return
		}
		seen[id] = true
		out = append(out, &accountResource{e: e, id: id, display: display, description: description})
	}
	for _, s := range e.t.services {
		add(s.ServiceAccount, "NBA pipeline: "+string(s.Phase)+" consumers", "Runs Cloud Run service "+s.Name+" (managed by infra deploy)")
	}
	add(ProducerAccount, "NBA pipeline: producer", "Runs Cloud Run job "+ProducerJob+" (managed by infra deploy)")
	add(PushAccount, "NBA pipeline: push and reconcile", "Pub/Sub push subscriptions and Cloud Scheduler's /reconcile calls sign their OIDC tokens as this account; the consumers accept no other (managed by infra deploy)")
	add(SchedulerAccount, "NBA pipeline: scheduler", "Cloud Scheduler runs job "+ProducerJob+" as this account (managed by infra deploy)")
	return out
}

func (r *accountResource) kind() string { return "service-account" }
func (r *accountResource) name() string { return r.e.t.account(r.id) }
func (r *accountResource) path() string {
	return "projects/" + r.e.t.project + "/serviceAccounts/" + r.e.t.account(r.id)
}

func (r *accountResource) want() kv {
	var f kv
	f.set("display_name", r.display)
	f.set("description", r.description)
	return f
}

func (r *accountResource) read(ctx context.Context) (map[string]string, bool, error) {
	sa, err := r.e.c.IAM.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: r.path()})
	if notFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return map[string]string{"display_name": sa.GetDisplayName(), "description": sa.GetDescription()}, true, nil
}

func (r *accountResource) create(ctx context.Context) error {
	_, err := r.e.c.IAM.CreateServiceAccount(ctx, &adminpb.CreateServiceAccountRequest{
		Name: "projects/" + r.e.t.project, AccountId: r.id,
		ServiceAccount: &adminpb.ServiceAccount{DisplayName: r.display, Description: r.description},
	})
	return err
}

func (r *accountResource) update(ctx context.Context, _ []Field) error {
	_, err := r.e.c.IAM.PatchServiceAccount(ctx, &adminpb.PatchServiceAccountRequest{
		ServiceAccount: &adminpb.ServiceAccount{Name: r.path(), DisplayName: r.display, Description: r.description},
		UpdateMask:     &fieldmaskpb.FieldMask{Paths: []string{"display_name", "description"}},
	})
	return err
}

// secretResource is one Secret Manager secret. Deploy creates the secret, never a value:
// the key is added by a person (docs/deploy.md) and read by Cloud Run at start.
type secretResource struct {
	e   *engine
	env string
}

func (r *secretResource) kind() string { return "secret" }
func (r *secretResource) name() string { return SecretName(r.env) }
func (r *secretResource) path() string {
	return "projects/" + r.e.t.project + "/secrets/" + SecretName(r.env)
}

func (r *secretResource) want() kv {
	var f kv
	f.set("replication", "automatic")
	f.set("labels", "managed-by="+managedBy)
	f.set("holds", r.env+" of the scrapers (the value is added by hand, never by deploy)")
	return f
}

func (r *secretResource) read(ctx context.Context) (map[string]string, bool, error) {
	s, err := r.e.c.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: r.path()})
	if notFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	repl := "user-managed"
	if s.GetReplication().GetAutomatic() != nil {
		repl = "automatic"
	}
	return map[string]string{"replication": repl, "labels": labels(s.GetLabels()),
		"holds": r.env + " of the scrapers (the value is added by hand, never by deploy)"}, true, nil
}

func (r *secretResource) create(ctx context.Context) error {
	_, err := r.e.c.Secrets.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/" + r.e.t.project, SecretId: SecretName(r.env),
		Secret: &secretmanagerpb.Secret{
			Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
			Labels:      map[string]string{"managed-by": managedBy},
		},
	})
	return err
}

func (r *secretResource) update(ctx context.Context, changed []Field) error {
	for _, f := range changed {
		if f.Name == "replication" {
			return fmt.Errorf("replication is %s, declared automatic: it cannot be changed in place; delete the secret (after saving its value) and deploy again", f.Got)
		}
	}
	_, err := r.e.c.Secrets.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret:     &secretmanagerpb.Secret{Name: r.path(), Labels: map[string]string{"managed-by": managedBy}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}},
	})
	return err
}

// secrets declares the secrets and notes those without a value.
func (e *engine) secrets(ctx context.Context) error {
	for _, v := range SecretVariables() {
		r := &secretResource{e: e, env: v}
		if err := e.ensure(ctx, r); err != nil {
			return err
		}
		if e.t.o.Offline {
			continue
		}
		latest := r.path() + "/versions/latest"
		ver, err := e.c.Secrets.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: latest})
		switch {
		case notFound(err) || (err == nil && ver.GetState() != secretmanagerpb.SecretVersion_ENABLED):
			e.missingSecrets = append(e.missingSecrets, r.name())
			e.rep.Notes = append(e.rep.Notes, fmt.Sprintf("secret %s has no enabled version: add the key before the services start: printf %%s \"$%s\" | gcloud secrets versions add %s --project %s --data-file=-",
				r.name(), v, r.name(), e.t.project))
		case err != nil:
			return wrapErr(e.t.project, "get", "secret-version", latest, err)
		}
	}
	return nil
}

// checkSecrets stops an apply before the services when a secret they read has no value:
// the service would be created but its revision would never start.
func (e *engine) checkSecrets(context.Context) error {
	if e.t.o.Plan || e.t.o.Offline || len(e.missingSecrets) == 0 {
		return nil
	}
	return fmt.Errorf("secrets %s have no enabled version, so the scrapers service could not start: add each key with "+
		"`printf %%s \"$KEY\" | gcloud secrets versions add NAME --project %s --data-file=-`, then deploy again (everything before the services is in place)",
		strings.Join(e.missingSecrets, ", "), e.t.project)
}

// labels writes deploy's own labels (managed-by, phase) of a resource; labels that
// Google Cloud or a person added are not deploy's to compare.
func labels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != "managed-by" && k != "phase" {
			continue
		}
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}
