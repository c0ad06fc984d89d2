package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// profileDir is --profile's directory ("" without it): each pipeline run also writes there
// what the stack holds once its chain has finished: the Go heap (heap-<dates>-dates.pprof)
// and DuckDB's memory by component (duckdb-memory-<dates>-dates.txt); and the consumers
// process writes its CPU profile over the run (consumers-cpu-<dates>-dates.pprof).
// The emulator's own CPU profile labels the time of BigQuery jobs with their table
// (go tool pprof -tags cpu.pprof).
var profileDir string

// startProfiles profiles this process into dir until the returned func: CPU
// (cpu.pprof), where goroutines block (block.pprof) and wait for locks (mutex.pprof),
// and every allocation (allocs.pprof, written at the end). go tool pprof reads them.
func startProfiles(dir string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	profileDir = dir
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, err
	}
	// One sample per 100 µs blocked, and every fifth lock contention: enough detail
	// without slowing the stack down.
	runtime.SetBlockProfileRate(100_000)
	runtime.SetMutexProfileFraction(5)
	return func() error {
		pprof.StopCPUProfile()
		errs := []error{cpu.Close()}
		runtime.GC()
		for _, name := range []string{"block", "mutex", "allocs"} {
			errs = append(errs, writeProfile(filepath.Join(dir, name+".pprof"), name))
		}
		return errors.Join(errs...)
	}, nil
}

func writeProfile(path, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
