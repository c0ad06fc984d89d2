// Package gcpfake is an in-process Google Cloud for deploy's tests: the Cloud Run Admin,
// Cloud Scheduler, Secret Manager, IAM and Resource Manager APIs implemented on their own
// generated gRPC server interfaces (only the methods deploy calls), pstest for Pub/Sub
// with the IAM policy service it lacks, and fake-gcs-server behind a front that adds what
// it lacks (bucket IAM policies and lifecycle). The official clients connect to it
// unchanged (Clients), the way they connect to pstest. Every call is recorded, with the
// resource it named, and any method can be made to fail, such as with PermissionDenied.
package gcpfake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Call is one request the fake received.
type Call struct {
	// API is the service: run, scheduler, secretmanager, iam, resourcemanager, pubsub,
	// storage.
	API string
	// Method is the RPC's name (CreateService) or, for storage, the HTTP method and path.
	Method string
	// Resource is the name, parent or resource the request named.
	Resource string
}

// Mutating reports whether the call changes something.
func (c Call) Mutating() bool {
	if c.API == "storage" {
		m, _, _ := strings.Cut(c.Method, " ")
		return m != http.MethodGet && m != http.MethodHead
	}
	for _, p := range []string{"Create", "Update", "Set", "Patch", "Delete", "Add", "Undelete", "Run", "Publish"} {
		if strings.HasPrefix(c.Method, p) {
			return true
		}
	}
	return false
}

// String is "api method resource", as a test prints a call.
func (c Call) String() string { return c.API + " " + c.Method + " " + c.Resource }

// Fake is a running in-process Google Cloud for one project.
type Fake struct {
	Project string
	// Number is the project number GetProject answers.
	Number string

	grpcSrv  *grpc.Server
	grpcAddr string
	pubsub   *pstest.Server
	gcs      *fakestorage.Server
	httpSrv  *http.Server
	gcsURL   string

	mu        sync.Mutex
	calls     []Call
	failures  map[string]error
	policies  map[string]*iampb.Policy
	etags     int
	services  map[string]*runpb.Service
	jobs      map[string]*runpb.Job
	schedules map[string]*schedulerpb.Job
	secrets   map[string]*secretmanagerpb.Secret
	versions  map[string][]*secretmanagerpb.SecretVersion
	accounts  map[string]*adminpb.ServiceAccount
	ops       map[string]*longrunningpb.Operation
	lifecycle map[string][]byte
}

// Start serves a fake of project (with project number number) on loopback ports.
func Start(project, number string) (*Fake, error) {
	f := &Fake{Project: project, Number: number,
		failures: map[string]error{}, policies: map[string]*iampb.Policy{},
		services: map[string]*runpb.Service{}, jobs: map[string]*runpb.Job{}, schedules: map[string]*schedulerpb.Job{},
		secrets: map[string]*secretmanagerpb.Secret{}, versions: map[string][]*secretmanagerpb.SecretVersion{},
		accounts: map[string]*adminpb.ServiceAccount{}, ops: map[string]*longrunningpb.Operation{}, lifecycle: map[string][]byte{}}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.grpcAddr = ln.Addr().String()
	f.grpcSrv = grpc.NewServer(grpc.UnaryInterceptor(f.intercept))
	runpb.RegisterServicesServer(f.grpcSrv, &runServices{f: f})
	runpb.RegisterJobsServer(f.grpcSrv, &runJobs{f: f})
	longrunningpb.RegisterOperationsServer(f.grpcSrv, &operations{f: f})
	schedulerpb.RegisterCloudSchedulerServer(f.grpcSrv, &schedulerServer{f: f})
	secretmanagerpb.RegisterSecretManagerServiceServer(f.grpcSrv, &secrets{f: f})
	adminpb.RegisterIAMServer(f.grpcSrv, &iamAdmin{f: f})
	resourcemanagerpb.RegisterProjectsServer(f.grpcSrv, &projects{f: f})
	go func() { _ = f.grpcSrv.Serve(ln) }()

	var reactors []pstest.ServerReactorOption
	for _, m := range []string{"CreateTopic", "GetTopic", "UpdateTopic", "DeleteTopic", "CreateSubscription", "GetSubscription", "UpdateSubscription", "DeleteSubscription"} {
		reactors = append(reactors, pstest.ServerReactorOption{FuncName: m, Reactor: recorder{f: f, method: m}})
	}
	f.pubsub = pstest.NewServerWithCallback(0, func(s *grpc.Server) {
		iampb.RegisterIAMPolicyServer(s, &pubsubIAM{f: f})
	}, reactors...)

	if err := f.startStorage(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Close stops every server.
func (f *Fake) Close() error {
	f.grpcSrv.Stop()
	var errs []error
	if f.pubsub != nil {
		errs = append(errs, f.pubsub.Close())
	}
	if f.httpSrv != nil {
		errs = append(errs, f.httpSrv.Close())
	}
	if f.gcs != nil {
		f.gcs.Stop()
	}
	return errors.Join(errs...)
}

// Calls returns every call received so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Mutations returns the calls that changed something.
func (f *Fake) Mutations() []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Mutating() {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the calls recorded so far.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// Fail makes every later call of method (an RPC name such as CreateServiceAccount) whose
// resource contains resource fail with err, until Fail is called again with a nil err.
func (f *Fake) Fail(method, resource string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := method + "\x00" + resource
	if err == nil {
		delete(f.failures, key)
		return
	}
	f.failures[key] = err
}

// Policy returns the IAM policy the fake holds for a resource name (nil if none was set).
func (f *Fake) Policy(resource string) *iampb.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.policies[resource]; ok {
		return proto.Clone(p).(*iampb.Policy)
	}
	return nil
}

// record notes a call and returns the failure set for it, if any.
func (f *Fake) record(api, method, resource string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{API: api, Method: method, Resource: resource})
	for key, err := range f.failures {
		m, r, _ := strings.Cut(key, "\x00")
		if m == method && strings.Contains(resource, r) {
			return err
		}
	}
	return nil
}

func (f *Fake) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	svc, method, _ := strings.Cut(strings.TrimPrefix(info.FullMethod, "/"), "/")
	api := apiOf(svc)
	if err := f.record(api, method, resourceOf(req)); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// apiOf is a short API name for a gRPC service name.
func apiOf(svc string) string {
	switch {
	case strings.HasPrefix(svc, "google.cloud.run."):
		return "run"
	case strings.HasPrefix(svc, "google.cloud.scheduler."):
		return "scheduler"
	case strings.HasPrefix(svc, "google.cloud.secretmanager."):
		return "secretmanager"
	case strings.HasPrefix(svc, "google.iam.admin."):
		return "iam"
	case strings.HasPrefix(svc, "google.cloud.resourcemanager."):
		return "resourcemanager"
	case strings.HasPrefix(svc, "google.longrunning."):
		return "operations"
	}
	return svc
}

// resourceOf finds the resource a request names: its name, resource or parent field, or
// the name of the message it carries (an update's service, job or secret).
func resourceOf(req any) string {
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	for _, n := range []protoreflect.Name{"name", "resource", "topic", "subscription"} {
		if fd := fields.ByName(n); fd != nil && fd.Kind() == protoreflect.StringKind && r.Get(fd).String() != "" {
			return r.Get(fd).String()
		}
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() && r.Has(fd) {
			inner := r.Get(fd).Message()
			if nf := inner.Descriptor().Fields().ByName("name"); nf != nil && nf.Kind() == protoreflect.StringKind && inner.Get(nf).String() != "" {
				return inner.Get(nf).String()
			}
		}
	}
	var parts []string
	for _, n := range []protoreflect.Name{"parent", "service_id", "job_id", "secret_id", "account_id"} {
		if fd := fields.ByName(n); fd != nil && fd.Kind() == protoreflect.StringKind && r.Get(fd).String() != "" {
			parts = append(parts, r.Get(fd).String())
		}
	}
	return strings.Join(parts, "/")
}

// recorder records pstest's calls without changing them.
type recorder struct {
	f      *Fake
	method string
}

func (r recorder) React(req any) (bool, any, error) {
	if err := r.f.record("pubsub", r.method, resourceOf(req)); err != nil {
		return true, nil, err
	}
	return false, nil, nil
}

// Policies: one store for every API, keyed by resource name, with etags checked the way
// Google's IAM checks them (a stale etag is refused, so a read-modify-write cannot lose a
// concurrent change).

func (f *Fake) getPolicy(resource string) *iampb.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.policies[resource]
	if !ok {
		p = &iampb.Policy{Version: 1, Etag: []byte("BwAAAA==")}
		f.policies[resource] = p
	}
	return proto.Clone(p).(*iampb.Policy)
}

func (f *Fake) setPolicy(resource string, p *iampb.Policy) (*iampb.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.policies[resource]
	if ok && len(p.GetEtag()) > 0 && string(p.GetEtag()) != string(cur.GetEtag()) {
		return nil, status.Errorf(codes.Aborted, "There were concurrent policy changes for %s: read the policy again and retry", resource)
	}
	for _, b := range p.GetBindings() {
		if b.GetCondition() != nil && p.GetVersion() < 3 {
			return nil, status.Errorf(codes.InvalidArgument, "policy of %s has a conditional binding for %s: set version 3", resource, b.GetRole())
		}
	}
	f.etags++
	np := proto.Clone(p).(*iampb.Policy)
	np.Etag = fmt.Appendf(nil, "etag-%d", f.etags)
	f.policies[resource] = np
	return proto.Clone(np).(*iampb.Policy), nil
}

// pubsubIAM is the IAM policy service pstest lacks, for topics and subscriptions.
type pubsubIAM struct {
	iampb.UnimplementedIAMPolicyServer
	f *Fake
}

func (s *pubsubIAM) exists(ctx context.Context, resource string) error {
	var err error
	if strings.Contains(resource, "/topics/") {
		_, err = s.f.pubsub.GServer.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: resource})
	} else {
		_, err = s.f.pubsub.GServer.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: resource})
	}
	return err
}

func (s *pubsubIAM) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if err := s.f.record("pubsub", "GetIamPolicy", req.GetResource()); err != nil {
		return nil, err
	}
	if err := s.exists(ctx, req.GetResource()); err != nil {
		return nil, err
	}
	return s.f.getPolicy(req.GetResource()), nil
}

func (s *pubsubIAM) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if err := s.f.record("pubsub", "SetIamPolicy", req.GetResource()); err != nil {
		return nil, err
	}
	if err := s.exists(ctx, req.GetResource()); err != nil {
		return nil, err
	}
	return s.f.setPolicy(req.GetResource(), req.GetPolicy())
}
