// The official Pub/Sub emulator (cloud-pubsub-emulator 0.8.20, in the Google Cloud CLI)
// bundles a grpc-core that calls InternalStatus.asRuntimeException(Status, Metadata,
// boolean) with an older grpc-api whose InternalStatus lacks it. Every server call that a
// client cancels then fails with NoSuchMethodError before grpc-core tells the emulator, so
// the emulator never learns that a streaming pull is gone: it keeps leasing messages to the
// dead stream every 50 ms, and they come back only to be leased to it again.
//
// This class is the grpc-api one with the missing method added. infra/emulators puts it
// ahead of the emulator's jar on the class path when the jar's own copy lacks the method.
// Rebuild InternalStatus.class after a change (Java 8 class files, for any Java 8 or later):
//
//	javac --release 8 -cp $SDK/platform/pubsub-emulator/lib/cloud-pubsub-emulator-0.8.20-all.jar \
//	    -d infra/emulators/grpcpatch infra/emulators/grpcpatch/io/grpc/InternalStatus.java
package io.grpc;

public final class InternalStatus {
  private InternalStatus() {}

  public static final Metadata.Key<String> MESSAGE_KEY = Status.MESSAGE_KEY;

  public static final Metadata.Key<Status> CODE_KEY = Status.CODE_KEY;

  public static StatusRuntimeException asRuntimeExceptionWithoutStacktrace(Status status, Metadata trailers) {
    return new InternalStatusRuntimeException(status, trailers);
  }

  public static StatusRuntimeException asRuntimeException(Status status, Metadata trailers, boolean withStackTrace) {
    if (withStackTrace) {
      return new StatusRuntimeException(status, trailers);
    }
    return new InternalStatusRuntimeException(status, trailers);
  }
}
