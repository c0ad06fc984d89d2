// Package cloud builds the Google Cloud clients of every binary from the emulator hosts of its
// config, so that the same code talks to real services in production and to the emulators
// locally.
// It links no emulator code: production binaries import it.
package cloud

import (
	"context"
	"fmt"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// BigQueryOptions returns the client options for a BigQuery emulator at host ("host:port",
// or a URL such as "http://127.0.0.1:9050", the form the clients of other languages read
// from BIGQUERY_EMULATOR_HOST), or none when host is empty (production: default
// credentials). The Go client has no emulator variable of its own, so this maps ours to
// its endpoint option.
func BigQueryOptions(host string) []option.ClientOption {
	if host == "" {
		return nil
	}
	return []option.ClientOption{
		option.WithEndpoint(emulatorBase(host) + "/bigquery/v2/"),
		option.WithoutAuthentication(),
	}
}

// BigQuery opens a BigQuery client for project, on the emulator when emulatorHost is set.
func BigQuery(ctx context.Context, project, emulatorHost string) (*bigquery.Client, error) {
	c, err := bigquery.NewClient(ctx, project, BigQueryOptions(emulatorHost)...)
	if err != nil {
		return nil, fmt.Errorf("bigquery client for project %s: %w", project, err)
	}
	return c, nil
}

// Storage opens a GCS client, on the emulator at emulatorHost ("host:port" or a URL) when it
// is set.
// JSON reads are forced there because fake-gcs-server routes XML-API reads only for its
// public host.
func Storage(ctx context.Context, emulatorHost string) (*storage.Client, error) {
	var opts []option.ClientOption
	if emulatorHost != "" {
		opts = append(opts, option.WithEndpoint(emulatorBase(emulatorHost)+"/storage/v1/"),
			option.WithoutAuthentication(), storage.WithJSONReads())
	}
	c, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage client: %w", err)
	}
	return c, nil
}

// PubSubAt opens a Pub/Sub client for project: on the emulator at emulatorHost ("host:port")
// when it is set, or with the default credentials when it is empty (the client library then
// still honours PUBSUB_EMULATOR_HOST on its own). Callers pass the host from their own config,
// so parallel tests can each reach their own emulator without touching the process environment.
func PubSubAt(ctx context.Context, project, emulatorHost string) (*pubsub.Client, error) {
	var opts []option.ClientOption
	if emulatorHost != "" {
		opts = append(opts, option.WithEndpoint(emulatorHost), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	c, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		if emulatorHost != "" {
			return nil, fmt.Errorf("pubsub client for project %s on emulator %s: %w", project, emulatorHost, err)
		}
		return nil, fmt.Errorf("pubsub client for project %s: %w", project, err)
	}
	return c, nil
}
