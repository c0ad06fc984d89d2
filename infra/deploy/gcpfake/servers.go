package gcpfake

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func notFound(kind, name string) error {
	return status.Errorf(codes.NotFound, "%s %s was not found", kind, name)
}

func exists(kind, name string) error {
	return status.Errorf(codes.AlreadyExists, "%s %s already exists", kind, name)
}

func clone[M proto.Message](m M) M { return proto.Clone(m).(M) }

// done wraps a finished long-running operation's result, as Cloud Run returns it once the
// revision is ready; the client then needs no GetOperation.
func (f *Fake) done(result proto.Message) (*longrunningpb.Operation, error) {
	any, err := anypb.New(result)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	op := &longrunningpb.Operation{Name: fmt.Sprintf("projects/%s/locations/-/operations/%d", f.Project, len(f.ops)+1),
		Done: true, Result: &longrunningpb.Operation_Response{Response: any}, Metadata: any}
	f.ops[op.Name] = op
	return clone(op), nil
}

type operations struct {
	longrunningpb.UnimplementedOperationsServer
	f *Fake
}

func (s *operations) GetOperation(_ context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	op, ok := s.f.ops[req.GetName()]
	if !ok {
		return nil, notFound("operation", req.GetName())
	}
	return clone(op), nil
}

// runServices is Cloud Run Admin v2's Services: a service is stored as sent, with the
// URLs Cloud Run gives it (the deterministic one and the older hashed one).
type runServices struct {
	runpb.UnimplementedServicesServer
	f *Fake
}

// urls are the URLs Cloud Run gives a service.
func (f *Fake) urls(name string) (uri string, urls []string) {
	parts := strings.Split(name, "/") // projects/P/locations/R/services/S
	region, svc := parts[3], parts[5]
	h := fnv.New32a()
	h.Write([]byte(name))
	uri = fmt.Sprintf("https://%s-%08x-uw.a.run.app", svc, h.Sum32())
	return uri, []string{fmt.Sprintf("https://%s-%s.%s.run.app", svc, f.Number, region), uri}
}

func (s *runServices) GetService(_ context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	svc, ok := s.f.services[req.GetName()]
	if !ok {
		return nil, notFound("service", req.GetName())
	}
	return clone(svc), nil
}

func (s *runServices) CreateService(_ context.Context, req *runpb.CreateServiceRequest) (*longrunningpb.Operation, error) {
	name := req.GetParent() + "/services/" + req.GetServiceId()
	s.f.mu.Lock()
	if _, ok := s.f.services[name]; ok {
		s.f.mu.Unlock()
		return nil, exists("service", name)
	}
	if req.GetService().GetName() != "" {
		s.f.mu.Unlock()
		return nil, status.Errorf(codes.InvalidArgument, "service.name must be empty on create: the name is parent and service_id")
	}
	svc := clone(req.GetService())
	svc.Name, svc.Generation, svc.Etag = name, 1, "1"
	svc.Uri, svc.Urls = s.f.urls(name)
	s.f.services[name] = svc
	s.f.mu.Unlock()
	return s.f.done(svc)
}

func (s *runServices) UpdateService(_ context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	name := req.GetService().GetName()
	s.f.mu.Lock()
	old, ok := s.f.services[name]
	if !ok {
		s.f.mu.Unlock()
		return nil, notFound("service", name)
	}
	svc := clone(req.GetService())
	svc.Generation, svc.Uri, svc.Urls = old.Generation+1, old.Uri, old.Urls
	svc.Etag = fmt.Sprint(svc.Generation)
	s.f.services[name] = svc
	s.f.mu.Unlock()
	return s.f.done(svc)
}

func (s *runServices) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := s.GetService(context.Background(), &runpb.GetServiceRequest{Name: req.GetResource()}); err != nil {
		return nil, err
	}
	return s.f.getPolicy(req.GetResource()), nil
}

func (s *runServices) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := s.GetService(context.Background(), &runpb.GetServiceRequest{Name: req.GetResource()}); err != nil {
		return nil, err
	}
	return s.f.setPolicy(req.GetResource(), req.GetPolicy())
}

// Service returns the service the fake holds, as GetService would.
func (f *Fake) Service(name string) (*runpb.Service, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[name]
	if !ok {
		return nil, false
	}
	return clone(s), true
}

// runJobs is Cloud Run Admin v2's Jobs.
type runJobs struct {
	runpb.UnimplementedJobsServer
	f *Fake
}

func (s *runJobs) GetJob(_ context.Context, req *runpb.GetJobRequest) (*runpb.Job, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	j, ok := s.f.jobs[req.GetName()]
	if !ok {
		return nil, notFound("job", req.GetName())
	}
	return clone(j), nil
}

func (s *runJobs) CreateJob(_ context.Context, req *runpb.CreateJobRequest) (*longrunningpb.Operation, error) {
	name := req.GetParent() + "/jobs/" + req.GetJobId()
	s.f.mu.Lock()
	if _, ok := s.f.jobs[name]; ok {
		s.f.mu.Unlock()
		return nil, exists("job", name)
	}
	j := clone(req.GetJob())
	j.Name, j.Generation = name, 1
	s.f.jobs[name] = j
	s.f.mu.Unlock()
	return s.f.done(j)
}

func (s *runJobs) UpdateJob(_ context.Context, req *runpb.UpdateJobRequest) (*longrunningpb.Operation, error) {
	name := req.GetJob().GetName()
	s.f.mu.Lock()
	old, ok := s.f.jobs[name]
	if !ok {
		s.f.mu.Unlock()
		return nil, notFound("job", name)
	}
	j := clone(req.GetJob())
	j.Generation = old.Generation + 1
	s.f.jobs[name] = j
	s.f.mu.Unlock()
	return s.f.done(j)
}

func (s *runJobs) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := s.GetJob(context.Background(), &runpb.GetJobRequest{Name: req.GetResource()}); err != nil {
		return nil, err
	}
	return s.f.getPolicy(req.GetResource()), nil
}

func (s *runJobs) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := s.GetJob(context.Background(), &runpb.GetJobRequest{Name: req.GetResource()}); err != nil {
		return nil, err
	}
	return s.f.setPolicy(req.GetResource(), req.GetPolicy())
}

// Job returns the Cloud Run job the fake holds.
func (f *Fake) Job(name string) (*runpb.Job, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[name]
	if !ok {
		return nil, false
	}
	return clone(j), true
}

// schedulerServer is Cloud Scheduler.
type schedulerServer struct {
	schedulerpb.UnimplementedCloudSchedulerServer
	f *Fake
}

func (s *schedulerServer) GetJob(_ context.Context, req *schedulerpb.GetJobRequest) (*schedulerpb.Job, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	j, ok := s.f.schedules[req.GetName()]
	if !ok {
		return nil, notFound("job", req.GetName())
	}
	return clone(j), nil
}

func (s *schedulerServer) CreateJob(_ context.Context, req *schedulerpb.CreateJobRequest) (*schedulerpb.Job, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	j := clone(req.GetJob())
	if !strings.HasPrefix(j.GetName(), req.GetParent()+"/jobs/") {
		return nil, status.Errorf(codes.InvalidArgument, "job name %q is not under %s", j.GetName(), req.GetParent())
	}
	if _, ok := s.f.schedules[j.Name]; ok {
		return nil, exists("job", j.Name)
	}
	j.State = schedulerpb.Job_ENABLED
	s.f.schedules[j.Name] = j
	return clone(j), nil
}

func (s *schedulerServer) UpdateJob(_ context.Context, req *schedulerpb.UpdateJobRequest) (*schedulerpb.Job, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	old, ok := s.f.schedules[req.GetJob().GetName()]
	if !ok {
		return nil, notFound("job", req.GetJob().GetName())
	}
	j, err := masked(old, req.GetJob(), req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	s.f.schedules[j.Name] = j
	return clone(j), nil
}

// masked applies the update mask's top-level fields of src onto a copy of dst.
func masked[M proto.Message](dst, src M, mask *fieldmaskpb.FieldMask) (M, error) {
	out := clone(dst)
	if len(mask.GetPaths()) == 0 {
		return clone(src), nil
	}
	o, sr := out.ProtoReflect(), src.ProtoReflect()
	for _, p := range mask.GetPaths() {
		fd := o.Descriptor().Fields().ByName(protoName(p))
		if fd == nil {
			var zero M
			return zero, status.Errorf(codes.InvalidArgument, "update mask names unknown field %q", p)
		}
		if sr.Has(fd) {
			o.Set(fd, sr.Get(fd))
		} else {
			o.Clear(fd)
		}
	}
	return out, nil
}

// secrets is Secret Manager: secrets and their versions, never their payloads' use.
type secrets struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	f *Fake
}

func (s *secrets) GetSecret(_ context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	sec, ok := s.f.secrets[req.GetName()]
	if !ok {
		return nil, notFound("Secret", req.GetName())
	}
	return clone(sec), nil
}

func (s *secrets) CreateSecret(_ context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	name := req.GetParent() + "/secrets/" + req.GetSecretId()
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.secrets[name]; ok {
		return nil, exists("Secret", name)
	}
	if req.GetSecret().GetReplication() == nil {
		return nil, status.Errorf(codes.InvalidArgument, "secret %s needs a replication policy", name)
	}
	sec := clone(req.GetSecret())
	sec.Name = name
	s.f.secrets[name] = sec
	return clone(sec), nil
}

func (s *secrets) UpdateSecret(_ context.Context, req *secretmanagerpb.UpdateSecretRequest) (*secretmanagerpb.Secret, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	old, ok := s.f.secrets[req.GetSecret().GetName()]
	if !ok {
		return nil, notFound("Secret", req.GetSecret().GetName())
	}
	sec, err := masked(old, req.GetSecret(), req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	s.f.secrets[sec.Name] = sec
	return clone(sec), nil
}

func (s *secrets) AddSecretVersion(_ context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.secrets[req.GetParent()]; !ok {
		return nil, notFound("Secret", req.GetParent())
	}
	vs := s.f.versions[req.GetParent()]
	v := &secretmanagerpb.SecretVersion{Name: fmt.Sprintf("%s/versions/%d", req.GetParent(), len(vs)+1), State: secretmanagerpb.SecretVersion_ENABLED}
	s.f.versions[req.GetParent()] = append(vs, v)
	return clone(v), nil
}

func (s *secrets) GetSecretVersion(_ context.Context, req *secretmanagerpb.GetSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	parent, id, _ := strings.Cut(req.GetName(), "/versions/")
	vs := s.f.versions[parent]
	if id == "latest" && len(vs) > 0 {
		return clone(vs[len(vs)-1]), nil
	}
	for _, v := range vs {
		if v.GetName() == req.GetName() {
			return clone(v), nil
		}
	}
	return nil, notFound("Secret Version", req.GetName())
}

func (s *secrets) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := s.GetSecret(context.Background(), &secretmanagerpb.GetSecretRequest{Name: req.GetResource()}); err != nil {
		return nil, err
	}
	return s.f.getPolicy(req.GetResource()), nil
}

func (s *secrets) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := s.GetSecret(context.Background(), &secretmanagerpb.GetSecretRequest{Name: req.GetResource()}); err != nil {
		return nil, err
	}
	return s.f.setPolicy(req.GetResource(), req.GetPolicy())
}

// iamAdmin is IAM's service accounts, named projects/P/serviceAccounts/EMAIL.
type iamAdmin struct {
	adminpb.UnimplementedIAMServer
	f *Fake
}

func (s *iamAdmin) account(name string) (*adminpb.ServiceAccount, bool) {
	email := name[strings.LastIndex(name, "/")+1:]
	a, ok := s.f.accounts[email]
	return a, ok
}

func (s *iamAdmin) GetServiceAccount(_ context.Context, req *adminpb.GetServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	a, ok := s.account(req.GetName())
	if !ok {
		return nil, notFound("service account", req.GetName())
	}
	return clone(a), nil
}

func (s *iamAdmin) CreateServiceAccount(_ context.Context, req *adminpb.CreateServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	project := strings.TrimPrefix(req.GetName(), "projects/")
	email := req.GetAccountId() + "@" + project + ".iam.gserviceaccount.com"
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.accounts[email]; ok {
		return nil, exists("service account", email)
	}
	a := clone(req.GetServiceAccount())
	a.Name, a.Email, a.ProjectId = "projects/"+project+"/serviceAccounts/"+email, email, project
	s.f.accounts[email] = a
	return clone(a), nil
}

func (s *iamAdmin) PatchServiceAccount(_ context.Context, req *adminpb.PatchServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	old, ok := s.account(req.GetServiceAccount().GetName())
	if !ok {
		return nil, notFound("service account", req.GetServiceAccount().GetName())
	}
	a, err := masked(old, req.GetServiceAccount(), req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	a.Name, a.Email, a.ProjectId = old.Name, old.Email, old.ProjectId
	s.f.accounts[a.Email] = a
	return clone(a), nil
}

func (s *iamAdmin) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := s.GetServiceAccount(context.Background(), &adminpb.GetServiceAccountRequest{Name: req.GetResource()}); err != nil {
		return nil, err
	}
	return s.f.getPolicy(req.GetResource()), nil
}

func (s *iamAdmin) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if _, err := s.GetServiceAccount(context.Background(), &adminpb.GetServiceAccountRequest{Name: req.GetResource()}); err != nil {
		return nil, err
	}
	return s.f.setPolicy(req.GetResource(), req.GetPolicy())
}

// projects is Resource Manager's projects: the one project, by ID or number.
type projects struct {
	resourcemanagerpb.UnimplementedProjectsServer
	f *Fake
}

func (s *projects) check(name string) error {
	if name != "projects/"+s.f.Project && name != "projects/"+s.f.Number {
		return status.Errorf(codes.PermissionDenied, "the caller does not have permission on %s (or it does not exist)", name)
	}
	return nil
}

func (s *projects) GetProject(_ context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	if err := s.check(req.GetName()); err != nil {
		return nil, err
	}
	return &resourcemanagerpb.Project{Name: "projects/" + s.f.Number, ProjectId: s.f.Project, State: resourcemanagerpb.Project_ACTIVE}, nil
}

func (s *projects) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if err := s.check(req.GetResource()); err != nil {
		return nil, err
	}
	return s.f.getPolicy("projects/" + s.f.Project), nil
}

func (s *projects) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if err := s.check(req.GetResource()); err != nil {
		return nil, err
	}
	return s.f.setPolicy("projects/"+s.f.Project, req.GetPolicy())
}

// protoName is a field mask path of one segment as a field name.
func protoName(p string) protoreflect.Name { return protoreflect.Name(p) }
