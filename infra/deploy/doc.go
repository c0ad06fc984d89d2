// Package deploy plans and applies every Google Cloud resource of one environment from
// the same declarations the local stack runs on: the job catalogue (messages), its
// deployment settings with an environment's reviewed overrides (environments/*.json), and
// the topology (infra/topology). One Cloud Run service per phase serves that phase's push
// endpoints; the producer is a Cloud Run job; Cloud Scheduler runs the daily lane and
// calls each service's /reconcile; service accounts hold least-privilege grants.
//
// Run reads each resource through its API's official client, compares it with the
// declaration and creates or updates what differs, so applying twice changes nothing the
// second time. With Options.Plan it only reports (create, update with the fields that
// differ, unchanged); with Options.Offline it reports the whole declaration without any
// client, for review and tests. docs/deploy.md is the operator's guide.
package deploy
