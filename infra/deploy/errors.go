package deploy

import (
	"errors"
	"fmt"
	"net/http"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// PermissionError is a call Google Cloud refused for want of a permission. It names the
// resource, the permission, the predefined role that grants it and the command that
// grants the role, so the deployer knows what to ask for.
type PermissionError struct {
	Op, Kind, Name string
	Permission     string
	Role           string
	Project        string
	Err            error
}

// Error says what was refused and what to grant.
func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s %s %s: permission denied: the deployer needs %s, which role %s grants; "+
		"grant it with `gcloud projects add-iam-policy-binding %s --member=user:YOUR-EMAIL --role=%s` "+
		"(docs/deploy.md lists every role a deployer needs), then deploy again: %v",
		e.Op, e.Kind, e.Name, e.Permission, e.Role, e.Project, e.Role, e.Err)
}

// Unwrap gives the API's own error.
func (e *PermissionError) Unwrap() error { return e.Err }

// access is what one kind of resource needs of the deployer: the prefix of its
// permissions and the role that grants them all.
type access struct {
	permission string // e.g. "run.services": the op is appended (run.services.create)
	role       string
}

// accessOf is the permission family and role of each kind deploy manages.
var accessOf = map[string]access{
	"project":         {"resourcemanager.projects", "roles/browser"},
	"service-account": {"iam.serviceAccounts", "roles/iam.serviceAccountAdmin"},
	"secret":          {"secretmanager.secrets", "roles/secretmanager.admin"},
	"secret-version":  {"secretmanager.versions", "roles/secretmanager.viewer"},
	"topology":        {"pubsub.topics, pubsub.subscriptions, storage.buckets, bigquery.datasets or bigquery.tables", "roles/pubsub.admin, roles/storage.admin and roles/bigquery.dataOwner"},
	"bucket":          {"storage.buckets", "roles/storage.admin"},
	"dataset":         {"bigquery.datasets", "roles/bigquery.dataOwner"},
	"service":         {"run.services", "roles/run.admin"},
	"job":             {"run.jobs", "roles/run.admin"},
	"scheduler-job":   {"cloudscheduler.jobs", "roles/cloudscheduler.admin"},
}

// iamAccess is the permission and role to read or set the IAM policy of a kind.
var iamAccess = map[string]access{
	"project":         {"resourcemanager.projects", "roles/resourcemanager.projectIamAdmin"},
	"service-account": {"iam.serviceAccounts", "roles/iam.serviceAccountAdmin"},
	"secret":          {"secretmanager.secrets", "roles/secretmanager.admin"},
	"topic":           {"pubsub.topics", "roles/pubsub.admin"},
	"subscription":    {"pubsub.subscriptions", "roles/pubsub.admin"},
	"bucket":          {"storage.buckets", "roles/storage.admin"},
	"service":         {"run.services", "roles/run.admin"},
	"job":             {"run.jobs", "roles/run.admin"},
}

// denied reports whether err is Google Cloud refusing a permission (gRPC or JSON API).
func denied(err error) bool {
	if status.Code(err) == codes.PermissionDenied {
		return true
	}
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusForbidden
}

// notFound reports whether err says the resource does not exist.
func notFound(err error) bool {
	if status.Code(err) == codes.NotFound || errors.Is(err, storage.ErrBucketNotExist) {
		return true
	}
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// wrapErr names the operation and resource of a failed call, and for a refused permission
// returns a PermissionError saying what to grant.
func wrapErr(project, op, kind, name string, err error) error {
	if !denied(err) {
		return fmt.Errorf("%s %s %s: %w", op, kind, name, err)
	}
	table, perm := accessOf, op
	if kind == "iam-policy" || op == "getIamPolicy" || op == "setIamPolicy" {
		table = iamAccess
	}
	a, ok := table[policyKind(kind, name)]
	if !ok {
		a, ok = table[kind]
	}
	if !ok {
		return fmt.Errorf("%s %s %s: permission denied: %w", op, kind, name, err)
	}
	permission := a.permission + "." + perm
	if kind == "topology" {
		permission = a.permission
	}
	return &PermissionError{Op: op, Kind: kind, Name: name, Permission: permission, Role: a.role, Project: project, Err: err}
}
