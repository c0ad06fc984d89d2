package deflate

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// TestExpandGivesBackWhatWasCompressed round-trips strings with and without a dictionary,
// from many goroutines at once (the coders are pooled), with the size known and not, and
// checks that a dictionary that shares the strings' text makes them smaller.
func TestExpandGivesBackWhatWasCompressed(t *testing.T) {
	item := func(i int) []byte {
		return fmt.Appendf(nil, `{"kind":"storage#object","name":"_ledger/raw/job/2024-10-%02d.json","selfLink":"/b/x/o/_ledger%%2Fraw%%2Fjob%%2F2024-10-%02d.json","size":"%d"}`, i, i, i*7)
	}
	plain, dict := New(nil), New(item(0))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				b := item(g*50 + i)
				for _, c := range []*Codec{plain, dict} {
					z := c.Compress(b)
					for _, size := range []int{0, len(b)} {
						got, err := c.Expand(z, size)
						if err != nil || !bytes.Equal(got, b) {
							t.Errorf("Expand(Compress(%s), %d) = %q, %v", b, size, got, err)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	if b := item(42); len(dict.Compress(b)) >= len(plain.Compress(b))*2/3 {
		t.Errorf("against a dictionary of a similar string: %d bytes, without: %d; want a third less at least", len(dict.Compress(b)), len(plain.Compress(b)))
	}
}

// TestExpandRefusesAWrongSize checks that a size other than the string's is an error,
// never a string cut short or padded.
func TestExpandRefusesAWrongSize(t *testing.T) {
	c := New(nil)
	b := []byte("a string of thirty-two bytes....")
	z := c.Compress(b)
	for _, size := range []int{len(b) - 1, len(b) + 1} {
		if got, err := c.Expand(z, size); err == nil {
			t.Errorf("Expand with size %d of a %d-byte string: %q and no error", size, len(b), got)
		}
	}
	if _, err := c.Expand([]byte("not deflate"), 0); err == nil {
		t.Error("Expand of bytes that are not DEFLATE: no error")
	}
}
