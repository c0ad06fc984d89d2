package main

import (
	"errors"
	"fmt"
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
// (go tool pprof -tags cpu-instant-pipeline.pprof).
var profileDir string

// profileErr gathers the profiles that could not be written while the bench ran: it goes
// on without them, and the func startProfiles returns reports them, so that the bench
// exits non-zero after its table.
var profileErr error

// profileFailed records a profile that could not be written.
func profileFailed(err error) { profileErr = errors.Join(profileErr, err) }

// cpuFile is the file of the CPU profile being written, one per stage of the bench
// (cpu-<stage>.pprof): the pipeline and the sequential loop run on emulators in this
// process, so a single profile of the whole bench mixes what each of them cost.
var cpuFile *os.File

// startProfiles profiles this process into dir until the returned func: CPU by stage
// (cpu-setup.pprof until the first profileStage), where goroutines block (block.pprof)
// and wait for locks (mutex.pprof), and every allocation (allocs.pprof, written at the
// end). go tool pprof reads them.
func startProfiles(dir string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	profileDir, profileErr = dir, nil
	if err := profileStage("setup"); err != nil {
		return nil, err
	}
	// One sample per 100 µs blocked, and every fifth lock contention: enough detail
	// without slowing the stack down.
	runtime.SetBlockProfileRate(100_000)
	runtime.SetMutexProfileFraction(5)
	return func() error {
		errs := []error{profileErr, stopCPU()}
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

// profileStage ends the current stage's CPU profile and starts stage's, in
// cpu-<stage>.pprof (nothing without --profile). What fails is recorded (profileFailed)
// and returned.
func profileStage(stage string) error {
	if profileDir == "" {
		return nil
	}
	err := stopCPU()
	if f, cerr := os.Create(filepath.Join(profileDir, "cpu-"+stage+".pprof")); cerr != nil {
		err = errors.Join(err, cerr)
	} else if serr := pprof.StartCPUProfile(f); serr != nil {
		err = errors.Join(err, serr, f.Close())
	} else {
		cpuFile = f
	}
	if err != nil {
		profileFailed(fmt.Errorf("CPU profile of stage %s: %w", stage, err))
	}
	return err
}

// stopCPU ends the CPU profile being written, if any.
func stopCPU() error {
	if cpuFile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := cpuFile.Close()
	cpuFile = nil
	return err
}
