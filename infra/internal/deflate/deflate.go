// Package deflate compresses the small byte strings an emulator keeps for a long run (a
// job's query parameters, an object's listing item), optionally against a dictionary,
// and reuses its coders: a DEFLATE writer holds about a megabyte of tables and a reader a
// 32 KiB window, too much to make for every string.
package deflate

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"
)

// Codec compresses and expands against one dictionary (none if nil). It is safe for
// concurrent use.
type Codec struct {
	dict             []byte
	writers, readers sync.Pool
}

// New is a codec against dict, which it keeps: the caller must not change it.
func New(dict []byte) *Codec { return &Codec{dict: dict} }

// level is the fastest of compress/flate's levels that reads a dictionary: BestSpeed (1)
// compresses each string on its own whatever the dictionary.
const level = 2

// Compress is b compressed, in a slice of its own.
func (c *Codec) Compress(b []byte) []byte {
	var out bytes.Buffer
	w, _ := c.writers.Get().(*flate.Writer)
	if w == nil {
		// Fails only for a level out of range.
		w, _ = flate.NewWriterDict(&out, level, c.dict)
	} else {
		w.Reset(&out)
	}
	// Writing to a bytes.Buffer cannot fail.
	_, _ = w.Write(b)
	_ = w.Close()
	w.Reset(io.Discard) // the pooled writer does not hold out
	c.writers.Put(w)
	return bytes.Clone(out.Bytes())
}

// Expand is what Compress made b from. size is its length if the caller knows it (an
// exact buffer is allocated once), or 0.
func (c *Codec) Expand(b []byte, size int) ([]byte, error) {
	r, _ := c.readers.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReaderDict(bytes.NewReader(b), c.dict)
	} else if err := r.(flate.Resetter).Reset(bytes.NewReader(b), c.dict); err != nil {
		return nil, err
	}
	defer c.readers.Put(r)
	if size <= 0 {
		return io.ReadAll(r)
	}
	out := make([]byte, size)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, err
	}
	// The stream must end where the caller said: one byte more is a wrong size.
	var more [1]byte
	if n, _ := r.Read(more[:]); n > 0 {
		return nil, io.ErrShortBuffer
	}
	return out, nil
}
