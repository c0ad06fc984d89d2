package emulators

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeJar writes a jar with the files given (path → content) to path.
func writeJar(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for name, content := range files {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// brokenInternalStatus stands for the class in the emulator's jar: its constant pool names
// asRuntimeExceptionWithoutStacktrace and not asRuntimeException.
var brokenInternalStatus = append([]byte{0xca, 0xfe, 0xba, 0xbe, 1, 0, 35}, "asRuntimeExceptionWithoutStacktrace"...)

const manifest = "Manifest-Version: 1.0\nMain-Class: com.google.cloud.pubsub.testing.v1.Main\n"

func TestEmulatorJarIsPatchedOnlyWhereItsGRPCLacksTheMethod(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		files   map[string][]byte
		patch   bool
		wantErr string
	}{
		{"broken grpc", map[string][]byte{"META-INF/MANIFEST.MF": []byte(manifest), grpcPatchedClass: brokenInternalStatus}, true, ""},
		{"fixed grpc", map[string][]byte{"META-INF/MANIFEST.MF": []byte(manifest), grpcPatchedClass: grpcPatchClass}, false, ""},
		{"no grpc", map[string][]byte{"META-INF/MANIFEST.MF": []byte(manifest)}, false, ""},
		{"no main class", map[string][]byte{"META-INF/MANIFEST.MF": []byte("Manifest-Version: 1.0\n")}, false, "names no Main-Class"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jar := filepath.Join(t.TempDir(), "emulator.jar")
			writeJar(t, jar, tc.files)
			main, patch, err := inspectEmulatorJar(jar)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if main != "com.google.cloud.pubsub.testing.v1.Main" || patch != tc.patch {
				t.Errorf("main class %q, patch %v; want the manifest's and %v", main, patch, tc.patch)
			}
		})
	}
}

// TestPatchedEmulatorRunsOnJavaWithThePatchFirst: a launcher whose jar needs the patch is
// replaced by Java with the patch ahead of the jar on the class path, and the patch is
// removed afterwards; one without a jar beside it is run as it is.
func TestPatchedEmulatorRunsOnJavaWithThePatchFirst(t *testing.T) {
	if _, err := javaCommand(); err != nil {
		t.Skipf("no Java here: %v", err)
	}
	sdk := t.TempDir()
	launcher := filepath.Join(sdk, "bin", "cloud-pubsub-emulator")
	if err := os.MkdirAll(filepath.Dir(launcher), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(launcher, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd, cleanup, err := emulatorCommand(launcher, []string{"--port=1"}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if cmd.Path != launcher {
		t.Errorf("without a jar: runs %s, want the launcher", cmd.Path)
	}

	jar := filepath.Join(sdk, "lib", "cloud-pubsub-emulator-0.8.20-all.jar")
	writeJar(t, jar, map[string][]byte{"META-INF/MANIFEST.MF": []byte(manifest), grpcPatchedClass: brokenInternalStatus})
	cmd, cleanup, err = emulatorCommand(launcher, []string{"--port=1"}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(cmd.Args[1:], " ")
	cp := ""
	for i, a := range cmd.Args {
		if a == "-cp" && i+1 < len(cmd.Args) {
			cp = cmd.Args[i+1]
		}
	}
	dir, rest, _ := strings.Cut(cp, string(os.PathListSeparator))
	if rest != jar || !strings.HasSuffix(args, "com.google.cloud.pubsub.testing.v1.Main --port=1") {
		t.Errorf("runs %s %s: want java -cp PATCH:%s, the main class and the arguments", cmd.Path, args, jar)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "io", "grpc", "InternalStatus.class")); err != nil || !bytes.Equal(b, grpcPatchClass) {
		t.Errorf("the patch is not on the class path (%v)", err)
	}
	if !strings.Contains(logs.String(), "cloud-pubsub-emulator-0.8.20-all.jar lacks InternalStatus.asRuntimeException") {
		t.Errorf("the emulator's log does not say it was patched: %q", logs.String())
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the patch directory %s is still there after cleanup (%v)", dir, err)
	}
}
