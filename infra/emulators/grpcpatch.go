package emulators

import (
	"archive/zip"
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// grpcPatchClass is io.grpc.InternalStatus as grpc-api has it, with the method
// asRuntimeException(Status, Metadata, boolean) that the official emulator's bundled
// grpc-core calls and its bundled grpc-api lacks (source and how to rebuild it beside it,
// in grpcpatch/io/grpc/InternalStatus.java).
//
// Without it, every call a client cancels fails inside the emulator with NoSuchMethodError
// ("Exception in onRstStreamRead()" in its log) before grpc-core tells the emulator, so a
// streaming pull that a consumer cancelled — on SIGTERM, or when the Go client reopens a
// stream it thinks idle — stays open on the emulator's side: its pusher goes on leasing
// messages to it every 50 ms, and each comes back after its ack deadline only to be leased
// to a dead stream again. Measured here: after three consumers of eight streams each were
// stopped, a fourth received 4 of 40 messages published afterwards in 150 s; with the patch,
// all 40 in a second.
//
//go:embed grpcpatch/io/grpc/InternalStatus.class
var grpcPatchClass []byte

// grpcPatchedClass is the class the patch replaces, as a path in a jar.
const grpcPatchedClass = "io/grpc/InternalStatus.class"

// grpcMissingMethod is the method the patch adds, as its name is written in a class
// file's constant pool: a CONSTANT_Utf8 entry (tag 1, then its length in two bytes).
var grpcMissingMethod = append([]byte{1, 0, byte(len("asRuntimeException"))}, "asRuntimeException"...)

// emulatorCommand is the command that runs the emulator at launcher with args. Where the
// emulator's jar (lib/cloud-pubsub-emulator-*.jar beside the launcher's bin/) holds an
// InternalStatus without the method its gRPC calls, it runs the jar's main class on Java
// directly, with grpcPatchClass written to a temporary directory ahead of the jar on the
// class path, and says so on logs; cleanup removes that directory. Otherwise (a fixed
// emulator, or a launcher without a jar beside it) it is the launcher itself, as gcloud runs
// it. JAVA_OPTS and CLOUD_PUBSUB_EMULATOR_OPTS reach Java either way, as the launcher
// passes them.
func emulatorCommand(launcher string, args []string, logs io.Writer) (cmd *exec.Cmd, cleanup func(), err error) {
	plain := exec.Command(launcher, args...)
	jars, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(launcher)), "lib", "cloud-pubsub-emulator-*.jar"))
	if len(jars) != 1 {
		return plain, func() {}, nil
	}
	jar := jars[0]
	mainClass, needs, err := inspectEmulatorJar(jar)
	if err != nil {
		return nil, nil, fmt.Errorf("official pubsub emulator: %w", err)
	}
	if !needs {
		return plain, func() {}, nil
	}
	java, err := javaCommand()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v: install Java 8 or later (Debian: `apt-get install default-jre-headless`). %s",
			ErrGcloudPubSubNotInstalled, err, pstestNeedsNothing)
	}
	dir, err := os.MkdirTemp("", "pubsub-emulator-grpcpatch-")
	if err != nil {
		return nil, nil, fmt.Errorf("official pubsub emulator: gRPC patch: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	class := filepath.Join(dir, filepath.FromSlash(grpcPatchedClass))
	err = os.MkdirAll(filepath.Dir(class), 0o755)
	if err == nil {
		err = os.WriteFile(class, grpcPatchClass, 0o644)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("official pubsub emulator: gRPC patch: %w", err)
	}
	var jvm []string
	for _, v := range []string{"JAVA_OPTS", "CLOUD_PUBSUB_EMULATOR_OPTS"} {
		jvm = append(jvm, strings.Fields(os.Getenv(v))...)
	}
	jvm = append(jvm, "-cp", dir+string(os.PathListSeparator)+jar, mainClass)
	fmt.Fprintf(logs, "infra/emulators: %s lacks InternalStatus.asRuntimeException, which its gRPC calls when a client cancels a call; "+
		"running it with the patched class from infra/emulators/grpcpatch ahead of it on the class path\n", filepath.Base(jar))
	return exec.Command(java, append(jvm, args...)...), cleanup, nil
}

// inspectEmulatorJar reads the emulator's jar: its main class, and whether its
// io.grpc.InternalStatus lacks the method that grpcPatchClass adds.
func inspectEmulatorJar(jar string) (mainClass string, needsPatch bool, err error) {
	z, err := zip.OpenReader(jar)
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", jar, err)
	}
	defer z.Close()
	read := func(name string) ([]byte, error) {
		f, err := z.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	}
	manifest, err := read("META-INF/MANIFEST.MF")
	if err != nil {
		return "", false, fmt.Errorf("%s: manifest: %w", jar, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(manifest))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Main-Class:"); ok {
			mainClass = strings.TrimSpace(v)
		}
	}
	if mainClass == "" {
		return "", false, fmt.Errorf("%s: the manifest names no Main-Class", jar)
	}
	class, err := read(grpcPatchedClass)
	if errors.Is(err, os.ErrNotExist) {
		return mainClass, false, nil // a jar without gRPC of its own has nothing to patch
	}
	if err != nil {
		return "", false, fmt.Errorf("%s: %s: %w", jar, grpcPatchedClass, err)
	}
	return mainClass, !bytes.Contains(class, grpcMissingMethod), nil
}
