package emulators_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/infra/emulators"
)

// TestListingMatchesFakeGCSServer lists through the emulator's HTTP API (which walks only
// the prefix's directory) and checks every answer against fake-gcs-server's own listing of
// the same bucket: names, prefixes, paging, offsets, and each object's attributes.
func TestListingMatchesFakeGCSServer(t *testing.T) {
	t.Parallel()
	env := emulators.StartTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := env.Storage.Bucket(env.Bucket)
	names := []string{
		"_ledger/raw/a/2024-10-22.json", "_ledger/raw/a/2024-10-23.json", "_ledger/raw/a/2024-10-24.json",
		"_ledger/raw/ab/2024-10-22.json", "_ledger/scrapers/x/2024-10-22.json",
		"scraped/bdl/2024-10-22/page-1.json", "scraped/bdl/2024-10-22/page-2.json", "scraped/bdl/2024-10-23/page-1.json",
		"scraped/odds/2024-10-22/events.json", "top.json", "odd name/with space.json", "dots/a.metadata.json",
	}
	for i, n := range names {
		w := b.Object(n).NewWriter(ctx)
		w.Metadata = map[string]string{"state": "succeeded", "i": string(rune('a' + i))}
		w.ContentType = "application/json"
		if _, err := w.Write([]byte(`{"n":"` + n + `"}`)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []storage.Query{
		{},
		{Prefix: "_ledger/raw/a/"},
		{Prefix: "_ledger/raw/a"},
		{Prefix: "_ledger/raw/a/", StartOffset: "_ledger/raw/a/2024-10-23", EndOffset: "_ledger/raw/a/2024-10-23/"},
		{Prefix: "_ledger/", Delimiter: "/"},
		{Prefix: "_ledger/raw/", Delimiter: "/", IncludeTrailingDelimiter: true},
		{Prefix: "scraped/bdl/2024-10-22/"},
		{Prefix: "scraped/"},
		{Prefix: "nothing/here/"},
		{Prefix: "odd name/"},
		{Prefix: "dots/"},
	} {
		for _, page := range []int{0, 2} {
			got := listAll(ctx, t, b, q, page)
			res, err := env.GCSServer.Server.ListObjectsWithOptionsPaginated(env.Bucket, fakestorage.ListOptions{
				Prefix: q.Prefix, Delimiter: q.Delimiter, StartOffset: q.StartOffset, EndOffset: q.EndOffset,
				IncludeTrailingDelimiter: q.IncludeTrailingDelimiter})
			if err != nil {
				t.Fatal(err)
			}
			var want listed
			for _, o := range res.Objects {
				want.names = append(want.names, o.Name)
			}
			want.prefixes = res.Prefixes
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(listed{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("query %+v, page size %d: listing differs from fake-gcs-server's (-want +got):\n%s", q, page, diff)
			}
		}
	}
	// Each item carries the object's attributes, as a GET of the object has them, also
	// after the object is written again with a body of the same size, or only its
	// metadata changes (the listing keeps descriptions between listings).
	const prefix = "scraped/bdl/2024-10-22/"
	sameAsObjects(ctx, t, b, prefix)
	w := b.Object(prefix + "page-1.json").NewWriter(ctx)
	w.Metadata = map[string]string{"state": "failed"}
	if _, err := w.Write([]byte(`{"n":"` + prefix + "page-9.json" + `"}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sameAsObjects(ctx, t, b, prefix)
	if _, err := b.Object(prefix+"page-2.json").Update(ctx, storage.ObjectAttrsToUpdate{Metadata: map[string]string{"state": "dead"}}); err != nil {
		t.Fatal(err)
	}
	got := sameAsObjects(ctx, t, b, prefix)
	if got[prefix+"page-1.json"].Metadata["state"] != "failed" || got[prefix+"page-2.json"].Metadata["state"] != "dead" {
		t.Errorf("listing after the changes: states %q and %q, want failed and dead",
			got[prefix+"page-1.json"].Metadata["state"], got[prefix+"page-2.json"].Metadata["state"])
	}
}

// sameAsObjects lists prefix and checks each item against a GET of the object.
func sameAsObjects(ctx context.Context, t *testing.T, b *storage.BucketHandle, prefix string) map[string]*storage.ObjectAttrs {
	t.Helper()
	out := map[string]*storage.ObjectAttrs{}
	it := b.Objects(ctx, &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		direct, err := b.Object(a.Name).Attrs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(direct, a); diff != "" {
			t.Errorf("%s: listed attributes differ from the object's (-object +listed):\n%s", a.Name, diff)
		}
		out[a.Name] = a
	}
}

type listed struct{ names, prefixes []string }

func listAll(ctx context.Context, t *testing.T, b *storage.BucketHandle, q storage.Query, page int) listed {
	t.Helper()
	it := b.Objects(ctx, &q)
	it.PageInfo().MaxSize = page
	var out listed
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if a.Prefix != "" {
			out.prefixes = append(out.prefixes, a.Prefix)
			continue
		}
		out.names = append(out.names, a.Name)
	}
}
