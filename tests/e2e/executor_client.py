"""A Ranger-style gRPC client for steward's executor API.

The Python stubs are generated at import time from proto/ with Debian's
grpc_tools into a temporary folder, so the tests speak exactly the wire
protocol the .proto files define.
"""

import atexit
import importlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "proto"
PROTOS = ["common", "feature", "inject", "condition", "capability"]


def _generate_stubs():
    out = tempfile.mkdtemp(prefix="steward-stubs-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}",
                    f"--python_out={out}", f"--grpc_python_out={out}"]
                   + [str(PROTO_DIR / f"{name}.proto") for name in PROTOS], check=True)
    sys.path.insert(0, out)
    return {name: (importlib.import_module(f"{name}_pb2"), importlib.import_module(f"{name}_pb2_grpc"))
            for name in PROTOS}


_modules = _generate_stubs()
common_pb2 = _modules["common"][0]
feature_pb2, feature_grpc = _modules["feature"]
inject_pb2, inject_grpc = _modules["inject"]
condition_pb2, condition_grpc = _modules["condition"]
capability_pb2, capability_grpc = _modules["capability"]

from google.protobuf import empty_pb2  # noqa: E402  (after the stubs' path is set)


class Executor:
    """Stubs of every executor service on one channel, with the bearer token."""

    def __init__(self, address, token="secret"):
        self.channel = grpc.insecure_channel(address)
        self.metadata = [("authorization", f"Bearer {token}")] if token is not None else []
        self.capability = capability_grpc.CapabilityStub(self.channel)
        self.feature = feature_grpc.FeatureServiceStub(self.channel)
        self.inject = inject_grpc.InjectServiceStub(self.channel)
        self.condition = condition_grpc.ConditionServiceStub(self.channel)

    def close(self):
        self.channel.close()

    def capabilities(self):
        return list(self.capability.GetCapabilities(empty_pb2.Empty(), metadata=self.metadata,
                                                    timeout=10).values)

    def create_feature(self, vm, name, version="", environment=(), account=None, timeout=60):
        request = feature_pb2.Feature(name=name, virtual_machine_id=vm,
                                      source=common_pb2.Source(name=name, version=version),
                                      environment=list(environment), account=account)
        return self.feature.create(request, metadata=self.metadata, timeout=timeout)

    def delete_feature(self, identifier):
        return self.feature.delete(common_pb2.Identifier(value=identifier), metadata=self.metadata, timeout=60)

    def create_inject(self, vm, name, version="", environment=(), account=None, timeout=60):
        request = inject_pb2.Inject(name=name, virtual_machine_id=vm,
                                    source=common_pb2.Source(name=name, version=version),
                                    environment=list(environment), account=account)
        return self.inject.create(request, metadata=self.metadata, timeout=timeout)

    def delete_inject(self, identifier):
        return self.inject.delete(common_pb2.Identifier(value=identifier), metadata=self.metadata, timeout=60)

    def create_condition(self, vm, name="c", source=None, command="", interval=1, environment=(), account=None):
        request = condition_pb2.Condition(name=name, virtual_machine_id=vm, command=command, interval=interval,
                                          environment=list(environment), account=account)
        if source is not None:
            request.source.CopyFrom(common_pb2.Source(name=source[0], version=source[1]))
        return self.condition.create(request, metadata=self.metadata, timeout=60).value

    def stream_condition(self, identifier, timeout=None):
        return self.condition.stream(common_pb2.Identifier(value=identifier), metadata=self.metadata,
                                     timeout=timeout)

    def delete_condition(self, identifier):
        return self.condition.delete(common_pb2.Identifier(value=identifier), metadata=self.metadata, timeout=60)
