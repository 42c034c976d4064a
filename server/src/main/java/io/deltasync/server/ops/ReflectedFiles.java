package io.deltasync.server.ops;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoFileDescriptorSupplier;
import io.grpc.protobuf.ProtoServiceDescriptorSupplier;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes server reflection serve .proto files that no service's file imports: the error catalogue
 * ({@code deltasync/v1/errors.proto}) and {@code google/rpc/error_details.proto} ({@code ErrorInfo},
 * {@code BadRequest}). Errors travel as {@code google.rpc.Status} whose details are {@code Any}, so nothing in a
 * service's schema depends on those files, and grpcurl or buf curl users could not decode the details the docs tell
 * them to branch on ("Symbol not found").
 *
 * <p>grpc-java's reflection service indexes the file of each registered service and that file's dependencies; it has
 * no way to add other files. So one service is registered with a copy of its file that also names the extra files as
 * dependencies (unused imports, which clients ignore): the same service, methods and messages, and the extra files
 * reachable through it. Adding those imports to the .proto itself would do the same, but would make every code
 * generator warn about unused imports, and buf lint refuses them.
 */
public final class ReflectedFiles {
  private ReflectedFiles() {}

  /**
   * The service, unchanged for calls, whose schema for reflection also depends on {@code extra}.
   *
   * @throws IllegalArgumentException if the service has no protobuf schema
   */
  public static ServerServiceDefinition alongside(ServerServiceDefinition service, FileDescriptor... extra) {
    io.grpc.ServiceDescriptor descriptor = service.getServiceDescriptor();
    if (!(descriptor.getSchemaDescriptor() instanceof ProtoServiceDescriptorSupplier supplier)) {
      throw new IllegalArgumentException("service " + descriptor.getName() + " has no protobuf schema");
    }
    FileDescriptor file = withDependencies(supplier.getFileDescriptor(), extra);
    ServiceDescriptor schema = file.findServiceByName(supplier.getServiceDescriptor().getName());
    io.grpc.ServiceDescriptor.Builder rebuilt = io.grpc.ServiceDescriptor.newBuilder(descriptor.getName())
        .setSchemaDescriptor(new Schema(file, schema));
    descriptor.getMethods().forEach(rebuilt::addMethod);
    ServerServiceDefinition.Builder definition = ServerServiceDefinition.builder(rebuilt.build());
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      definition.addMethod(method);
    }
    return definition.build();
  }

  private static FileDescriptor withDependencies(FileDescriptor file, FileDescriptor... extra) {
    FileDescriptorProto.Builder proto = file.toProto().toBuilder();
    List<FileDescriptor> dependencies = new ArrayList<>(file.getDependencies());
    for (FileDescriptor dependency : extra) {
      if (!proto.getDependencyList().contains(dependency.getName())) {
        proto.addDependency(dependency.getName());
        dependencies.add(dependency);
      }
    }
    try {
      return FileDescriptor.buildFrom(proto.build(), dependencies.toArray(FileDescriptor[]::new));
    } catch (DescriptorValidationException e) {
      throw new IllegalStateException("a valid file with added dependencies is valid", e);
    }
  }

  /** The schema reflection sees for the service. */
  private record Schema(FileDescriptor file, ServiceDescriptor service)
      implements ProtoFileDescriptorSupplier, ProtoServiceDescriptorSupplier {
    @Override
    public FileDescriptor getFileDescriptor() {
      return file;
    }

    @Override
    public ServiceDescriptor getServiceDescriptor() {
      return service;
    }
  }
}
