"""The SDK's sandboxed workflow runner, without entering the sandbox for
every payload when nothing depends on it.

temporalio 1.35 asks each workflow instance, for every payload sequence it
decodes in an activation and encodes in a completion (six passes: codec,
external storage, storage references), which serialization context applies
to it. The sandboxed runner answers by running code inside the workflow's
sandbox (an `exec` under the sandbox's importer), and that was about a
quarter of the worker's CPU in a burst of breaches (docs/performance.md).

The answer only matters to a payload codec or external storage: with
neither configured, encoding and decoding leave every payload as it is,
whatever the context (`DataConverter._encode_payload_sequence` and its
siblings do nothing without them). So when the client's data converter has
neither, this runner answers outside the sandbox with the workflow's own
context; with either, it is exactly the SDK's runner. Workflow code, its
determinism checks and the payload conversion inside the sandbox are
untouched, and nothing of this reaches a history.
"""

from __future__ import annotations

from dataclasses import dataclass

import temporalio.converter
import temporalio.workflow
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions


def converter_needs_context(converter: temporalio.converter.DataConverter) -> bool:
    """Whether payloads go through something that reads the serialization
    context: a payload codec or external storage."""
    return converter.payload_codec is not None or converter.external_storage is not None


@dataclass(frozen=True)
class CodecFreeSandboxedRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` for a data converter with no payload codec
    and no external storage (see `converter_needs_context`)."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextOutside(super().create_instance(det))


class _ContextOutside(WorkflowInstance):
    """A sandboxed instance whose serialization and store contexts are given
    without entering its sandbox; everything else is the instance's own."""

    def __init__(self, inner: WorkflowInstance) -> None:
        self._inner = inner
        info = inner.get_info()
        self._context = temporalio.converter.WorkflowSerializationContext(
            namespace=info.namespace, workflow_id=info.workflow_id
        )

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._inner.activate(act)

    def get_info(self) -> temporalio.workflow.Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()

    def get_serialization_context(
        self, command_info: object | None
    ) -> temporalio.converter.SerializationContext | None:
        # The workflow's context: the SDK then reuses its workflow-context converter as is.
        return self._context

    def get_external_store_context(
        self, command_info: object | None
    ) -> temporalio.converter.StorageDriverStoreContext:
        return temporalio.converter.StorageDriverStoreContext(target=None)


def sandboxed_runner(
    converter: temporalio.converter.DataConverter, restrictions: SandboxRestrictions
) -> SandboxedWorkflowRunner:
    """The runner for a worker whose client uses `converter`."""
    if converter_needs_context(converter):
        return SandboxedWorkflowRunner(restrictions=restrictions)
    return CodecFreeSandboxedRunner(restrictions=restrictions)
