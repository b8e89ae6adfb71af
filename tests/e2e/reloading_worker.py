"""A long-running Temporal worker that reloads its client certificate on SIGHUP, as one started
beside `gatehouse renew --daemon --signal PID:SIGHUP` does: it connects a new client with the
files as they are now, starts a new worker on it, then shuts the old worker down gracefully (its
tasks in flight finish) and drops the old client, which closes its connection.

    python reloading_worker.py ADDRESS NAMESPACE SERVER_NAME CA CERT KEY TASK_QUEUE STATUS_FILE
"""

import asyncio
import gc
import hashlib
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from temporalio import activity, workflow
from temporalio.client import Client, TLSConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=30))


async def main(address, namespace, server_name, ca, cert, key, queue, status_file):
    async def connect():
        return await Client.connect(address, namespace=namespace, tls=TLSConfig(
            server_root_ca_cert=Path(ca).read_bytes(), domain=server_name,
            client_cert=Path(cert).read_bytes(), client_private_key=Path(key).read_bytes()))

    def start(client):
        # No sticky workflow cache: with one, a workflow task Temporal had already put on the
        # old worker's sticky queue waits out the sticky schedule-to-start timeout (recorded
        # as WorkflowTaskTimedOut) before it is rescheduled on the shared queue.
        w = Worker(client, task_queue=queue, workflows=[Greeting], activities=[greet],
                   workflow_runner=UnsandboxedWorkflowRunner(), max_cached_workflows=0)
        return w, asyncio.create_task(w.run())

    reloads = []

    def status():
        der = x509.load_pem_x509_certificate(Path(cert).read_bytes()).public_bytes(Encoding.DER)
        reloads.append(hashlib.sha256(der).hexdigest())
        tmp = Path(status_file + ".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "certificates": reloads}))
        tmp.replace(status_file)

    client = await connect()
    worker, task = start(client)
    status()
    loop = asyncio.get_running_loop()
    hup, stop = asyncio.Event(), asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, hup.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    while not stop.is_set():
        waiters = [asyncio.create_task(hup.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        if hup.is_set() and not stop.is_set():
            hup.clear()
            # A new worker on a client with the new files polls before the old one stops, so
            # polling never pauses; the old worker finishes its tasks in flight, and its client
            # is dropped, which closes its connection. (Handing the running worker a new client,
            # `worker.client = …`, keeps its polls retrying on the old client's connection, with
            # the old certificate, until that one expires.)
            new_client = await connect()
            new_worker, new_task = start(new_client)
            await worker.shutdown()
            await task
            worker, task, client = new_worker, new_task, new_client
            gc.collect()
            status()
            print(f"reloaded the client certificate ({len(reloads) - 1})", flush=True)
    await worker.shutdown()
    await task


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:9]))
