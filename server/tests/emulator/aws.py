"""The AWS emulator the Trellis tests run against: moto's server, in this
process, plus what moto's EMR lacks and Trellis needs to be tested honestly.

moto never advances step states by itself, has no CancelSteps (HTTP 500),
answers DescribeStep for an unknown id with an empty 200, puts every EMR call
behind a custom endpoint in us-east-1, and cannot refuse an AssumeRole. This
adds, on top of the real moto server:

- CancelSteps: a PENDING step becomes CANCELLED; a RUNNING one
  CANCEL_PENDING, then CANCELLED after `cancel_seconds` (unless cancelling is
  set to be refused, when EMR's own FAILED answer comes back);
- DescribeStep for an unknown step or cluster: EMR's InvalidRequestException;
- FailureDetails on failed steps;
- EMR's region taken from the request's signature;
- optional auto-progression: PENDING -> RUNNING after `pending_seconds`,
  RUNNING -> `final` after `running_seconds`, evaluated whenever a step is read;
- a control API under /trellis-emulator/ (JSON):
    POST /trellis-emulator/emr/auto   {"enabled", "pending_seconds", "running_seconds",
                                       "final", "cancel_seconds", "refuse_cancel"}
    POST /trellis-emulator/emr/step   {"step_id", "state", "failure": {"reason", "message", "log_file"}}
    POST /trellis-emulator/emr/cluster {"region"}    makes a cluster waiting for steps
    POST /trellis-emulator/sts/deny   {"role_arn"}   AssumeRole of it answers AccessDenied
    POST /trellis-emulator/mwaa/environment {"name", "source_bucket_arn", "dag_s3_path",
                                      "airflow_url", "username", "password"}
                                      an MWAA environment whose Airflow is a real local one:
                                      GetEnvironment answers its DAGs folder, InvokeRestApi
                                      forwards to `<airflow_url>/api/v2<Path>` with a token
                                      from its /auth/token, answering Airflow's 4xx as
                                      RestApiClientException and 5xx as RestApiServerException
                                      (with Airflow's status and body), as MWAA does
    POST /trellis-emulator/s3/deny    {"bucket", "operations": [..] or absent for all}
                                      S3 calls on the bucket (path-style) answer AccessDenied
    GET  /trellis-emulator/calls      {"<Action>": count, ...}
    GET  /trellis-emulator/sts/assumed every AssumeRole: role_arn, external_id, session_name,
                                      access_key_id (the key that signed it)
    GET  /trellis-emulator/signers    every EMR, MWAA and path-style S3 call: action (S3's as
                                      `s3:<Operation>`, MWAA's as `mwaa:<Operation>` with the
                                      REST call's method and path), access_key_id (the key
                                      that signed it)
    GET  /trellis-emulator/emr/steps  every step added: id, name, state, jar, args
  and moto's own POST /moto-api/reset, which also resets all of the above.

Usage: python aws.py [--port N]   (prints `ready <port>` once listening)
"""

import argparse
import collections
import io
import json
import re
import sys
import threading
from datetime import timedelta
from urllib.parse import parse_qs

from moto.core.responses import BaseResponse
from moto.core.utils import utcnow
from moto.emr.exceptions import InvalidRequestException
from moto.emr.models import ElasticMapReduceBackend, Step
from moto.emr.responses import ElasticMapReduceResponse
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

FINAL = {"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"}
DEFAULTS = {
    "enabled": False,
    "pending_seconds": 0.2,
    "running_seconds": 1.0,
    "final": "COMPLETED",
    "cancel_seconds": 0.3,
    "refuse_cancel": False,
}

lock = threading.Lock()
auto = dict(DEFAULTS)
steps = {}  # step id -> Step, every step added since the last reset
denied_roles = set()
denied_s3 = {}  # bucket -> set of S3 operations refused, or None for all
mwaa_environments = {}  # name -> settings (see mwaa/environment)
calls = collections.Counter()
assumed = []  # every AssumeRole asked for, with the key that signed it
signers = []  # every EMR call, with the key that signed it


def reset():
    with lock:
        auto.clear()
        auto.update(DEFAULTS)
        steps.clear()
        denied_roles.clear()
        denied_s3.clear()
        mwaa_environments.clear()
        calls.clear()
        del assumed[:]
        del signers[:]


def set_state(step, state, failure=None):
    now = utcnow()
    if state == "RUNNING" and step.start_date_time is None:
        step.start_date_time = now
    if state in FINAL:
        step.end_date_time = now
    step.state = state
    step.failure = failure


def advance(step):
    """Moves a step along by the clock, when auto-progression is on."""
    now = utcnow()
    cancel_at = getattr(step, "cancel_at", None)
    if step.state == "CANCEL_PENDING" and cancel_at is not None and now >= cancel_at:
        set_state(step, "CANCELLED")
        return
    if not auto["enabled"] or step.state in FINAL or step.state == "CANCEL_PENDING":
        return
    if step.state == "PENDING":
        began = step.creation_date_time + timedelta(seconds=auto["pending_seconds"])
        if now >= began:
            # It began when the clock says, not when someone looked.
            set_state(step, "RUNNING")
            step.start_date_time = began
    if step.state == "RUNNING":
        started = step.start_date_time or step.creation_date_time
        finished = started + timedelta(seconds=auto["running_seconds"])
        if now >= finished:
            failure = None
            if auto["final"] == "FAILED":
                failure = {
                    "Reason": "Step failed (emulated)",
                    "Message": "the emulator was told to fail every step",
                    "LogFile": "s3://emulator-logs/steps/" + step.id + "/stderr.gz",
                }
            set_state(step, auto["final"], failure)
            # It ended when the clock says, not when someone looked.
            step.end_date_time = finished


# Steps carry FailureDetails in their status, as EMR's do.
_status = Step.status.fget


def _status_with_failure(self):
    status = _status(self)
    failure = getattr(self, "failure", None)
    if failure:
        status["FailureDetails"] = failure
    return status


Step.status = property(_status_with_failure)

_add = ElasticMapReduceBackend.add_job_flow_steps


def add_job_flow_steps(self, job_flow_id, new_steps):
    if job_flow_id not in self.clusters:
        raise InvalidRequestException(f"Cluster id '{job_flow_id}' is not valid.")
    added = _add(self, job_flow_id, new_steps)
    with lock:
        calls["AddJobFlowSteps"] += 1
        for step in added:
            step.cluster_id = job_flow_id
            steps[step.id] = step
            if auto["enabled"]:
                # A fresh step waits its turn, like a real one.
                step.state = "PENDING"
                step.start_date_time = None
    return added


def describe_step(self, cluster_id, step_id):
    with lock:
        calls["DescribeStep"] += 1
    if cluster_id not in self.clusters:
        raise InvalidRequestException(f"Cluster id '{cluster_id}' is not valid.")
    step = steps.get(step_id)
    if step is None or getattr(step, "cluster_id", None) != cluster_id:
        raise InvalidRequestException(f"Step id '{step_id}' is not valid.")
    advance(step)
    return step


_list = ElasticMapReduceBackend.list_steps


def list_steps(self, cluster_id, step_ids=None, step_states=None):
    with lock:
        calls["ListSteps"] += 1
    if cluster_id not in self.clusters:
        raise InvalidRequestException(f"Cluster id '{cluster_id}' is not valid.")
    if step_ids:
        # By id: look only at those (a cluster may hold thousands of steps).
        found = [steps[i] for i in step_ids if i in steps and steps[i].cluster_id == cluster_id]
        for step in found:
            advance(step)
        return [s for s in found if not step_states or s.state in step_states]
    for step in self.clusters[cluster_id].steps:
        advance(step)
    return _list(self, cluster_id, step_ids=step_ids, step_states=step_states)


def cancel_steps(self, cluster_id, step_ids, option):
    with lock:
        calls["CancelSteps"] += 1
    if cluster_id not in self.clusters:
        raise InvalidRequestException(f"Cluster id '{cluster_id}' is not valid.")
    found = {s.id: s for s in self.clusters[cluster_id].steps}
    infos = []
    for step_id in step_ids:
        step = found.get(step_id)
        if step is None:
            infos.append({"StepId": step_id, "Status": "FAILED", "Reason": f"Step id '{step_id}' is not valid."})
            continue
        advance(step)
        if auto["refuse_cancel"]:
            infos.append({"StepId": step_id, "Status": "FAILED", "Reason": "cancelling is refused (emulated)"})
        elif step.state == "PENDING":
            set_state(step, "CANCELLED")
            infos.append({"StepId": step_id, "Status": "SUBMITTED", "Reason": ""})
        elif step.state == "RUNNING":
            step.state = "CANCEL_PENDING"
            delay = 0 if option == "TERMINATE_PROCESS" else auto["cancel_seconds"]
            step.cancel_at = utcnow() + timedelta(seconds=delay)
            infos.append({"StepId": step_id, "Status": "SUBMITTED", "Reason": ""})
        else:
            infos.append({"StepId": step_id, "Status": "FAILED", "Reason": f"Step is in state {step.state}"})
    return infos


ElasticMapReduceBackend.add_job_flow_steps = add_job_flow_steps
ElasticMapReduceBackend.describe_step = describe_step
ElasticMapReduceBackend.list_steps = list_steps
ElasticMapReduceBackend.cancel_steps = cancel_steps


def _cancel_steps_response(self):
    from moto.core.responses import ActionResult

    infos = self.backend.cancel_steps(
        self._get_param("ClusterId"),
        self._get_param("StepIds", []),
        self._get_param("StepCancellationOption", "SEND_INTERRUPT"),
    )
    return ActionResult({"CancelStepsInfoList": infos})


ElasticMapReduceResponse.cancel_steps = _cancel_steps_response

# Behind a custom endpoint moto's EMR takes every request for us-east-1; take
# the region from the request's signature, as moto's other services do.
_emr_region = ElasticMapReduceResponse.get_region_from_url


def _region_from_request(self, request, full_url):
    if any(r.search(self.parsed_url.netloc) for r in ElasticMapReduceResponse.emr_region_regex):
        return _emr_region(self, request, full_url)
    return BaseResponse.get_region_from_url(self, request, full_url)


ElasticMapReduceResponse.get_region_from_url = _region_from_request


def json_response(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def signer(environ):
    """The access key id a SigV4-signed request names."""
    m = re.search(r"Credential=([^/,\s]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else None


def form_of(environ):
    """A POST's form fields (the body is put back for moto)."""
    if environ.get("REQUEST_METHOD") != "POST":
        return {}
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return parse_qs(body.decode("utf-8", "replace"))


def s3_call(environ):
    """(bucket, operation) of a path-style S3 request, or None for others
    (EMR, STS and the control API post to `/`)."""
    path = environ.get("PATH_INFO", "")
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or bucket.startswith(("trellis-emulator", "moto-api")):
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    method = environ.get("REQUEST_METHOD")
    if not key:
        if method == "GET":
            op = "ListMultipartUploads" if "uploads" in query else "ListObjectsV2"
        else:
            op = {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, method)
    elif method == "HEAD":
        op = "HeadObject"
    elif method == "GET":
        op = "GetObject"
    elif method == "PUT":
        op = "UploadPart" if "partNumber" in query else "PutObject"
    elif method == "POST":
        op = "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    elif method == "DELETE":
        op = "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    else:
        op = method
    return bucket, op


def s3_denied(environ):
    """AccessDenied, as S3 words it, for a refused call on a denied bucket."""
    call = s3_call(environ)
    if call is None:
        return None
    bucket, op = call
    with lock:
        if bucket not in denied_s3:
            return None
        ops = denied_s3[bucket]
    if ops is not None and op not in ops:
        return None
    return (
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
        "<Message>Access Denied</Message><RequestId>emulated</RequestId></Error>"
    )


def record(environ, form):
    """Notes who signed each EMR and S3 call and every AssumeRole asked for."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    call = s3_call(environ) if environ.get("HTTP_AUTHORIZATION") else None
    with lock:
        if target.startswith("ElasticMapReduce."):
            signers.append({"action": target.split(".", 1)[1], "access_key_id": signer(environ)})
        elif call is not None and not form:
            signers.append({"action": f"s3:{call[1]}", "access_key_id": signer(environ)})
        if form.get("Action") == ["AssumeRole"]:
            field = lambda name: form.get(name, [None])[0]
            assumed.append(
                {
                    "role_arn": field("RoleArn"),
                    "external_id": field("ExternalId"),
                    "session_name": field("RoleSessionName"),
                    "access_key_id": signer(environ),
                }
            )


def sts_denied(form):
    """AccessDenied for AssumeRole of a denied role, as STS words it."""
    if form.get("Action") == ["AssumeRole"] and form.get("RoleArn", [""])[0] in denied_roles:
        arn = form["RoleArn"][0]
        return (
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
            "<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/trellis is not authorized "
            f"to perform: sts:AssumeRole on resource: {arn}</Message></Error>"
            "<RequestId>emulated</RequestId></ErrorResponse>"
        )
    return None


def signed_service(environ):
    """The service a SigV4 signature is scoped to (`airflow` for MWAA)."""
    m = re.search(r"Credential=[^/,\s]+/\d+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else None


def mwaa_error(start_response, kind, status, message, extra=None):
    body = {"__type": kind, "Message": message}
    body.update(extra or {})
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("X-Amzn-ErrorType", kind),
                            ("Content-Length", str(len(data)))])
    return [data]


def airflow_call(env, method, path, query, body):
    """One call to the environment's Airflow: (status, parsed body)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    def send(url, method, payload, token=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    base = env["airflow_url"].rstrip("/")
    url = f"{base}/api/v2{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    for fresh in (False, True):
        if fresh or not env.get("token"):
            status, text = send(f"{base}/auth/token", "POST",
                                {"username": env["username"], "password": env["password"]})
            env["token"] = json.loads(text).get("access_token") if status < 300 else None
        status, text = send(url, method, body, env.get("token"))
        if status != 401:
            break
    try:
        value = json.loads(text) if text else None
    except ValueError:
        value = text.decode("utf-8", "replace")
    return status, value


def mwaa(environ, start_response):
    """GetEnvironment and InvokeRestApi, as MWAA answers them."""
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD")
    m = re.fullmatch(r"/(environments|restapi)/([^/]+)", path)
    if not m:
        return mwaa_error(start_response, "ValidationException", "400 Bad Request", f"no MWAA operation at {path}")
    operation = "GetEnvironment" if m.group(1) == "environments" else "InvokeRestApi"
    name = m.group(2)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    with lock:
        calls[operation] += 1
        signers.append({
            "action": f"mwaa:{operation}",
            "access_key_id": signer(environ),
            "method": request.get("Method"),
            "path": request.get("Path"),
        })
        env = mwaa_environments.get(name)
    if env is None:
        return mwaa_error(start_response, "ResourceNotFoundException", "404 Not Found",
                          f"Environment {name} was not found")
    if operation == "GetEnvironment" and method == "GET":
        return json_response(start_response, "200 OK", {"Environment": {
            "Name": name,
            "Arn": f"arn:aws:airflow:us-east-1:123456789012:environment/{name}",
            "Status": "AVAILABLE",
            "AirflowVersion": "3.0.6",
            "SourceBucketArn": env["source_bucket_arn"],
            "DagS3Path": env["dag_s3_path"],
            "WebserverUrl": env["airflow_url"],
        }})
    status, value = airflow_call(env, request.get("Method", "GET"), request.get("Path", "/"),
                                 request.get("QueryParameters") or {}, request.get("Body"))
    if status < 400:
        return json_response(start_response, "200 OK", {"RestApiStatusCode": status, "RestApiResponse": value})
    kind = "RestApiClientException" if status < 500 else "RestApiServerException"
    return mwaa_error(start_response, kind, "400 Bad Request", f"Airflow answered {status}",
                      {"RestApiStatusCode": status, "RestApiResponse": value})


def application(moto_app):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/trellis-emulator/"):
            return control(environ, start_response, path[len("/trellis-emulator/"):])
        if signed_service(environ) == "airflow":
            return mwaa(environ, start_response)
        if path == "/moto-api/reset":
            reset()
        form = form_of(environ) if "form-urlencoded" in environ.get("CONTENT_TYPE", "") else {}
        record(environ, form)
        denied = sts_denied(form)
        if denied is None:
            denied = s3_denied(environ)
        if denied is not None:
            data = denied.encode()
            start_response("403 Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
            return [data]
        return moto_app(environ, start_response)

    return app


def control(environ, start_response, what):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    if what == "emr/cluster":
        return json_response(start_response, "200 OK", {"cluster_id": make_cluster(environ, body.get("region", "us-east-1"))})
    with lock:
        if what == "emr/auto":
            unknown = set(body) - set(DEFAULTS)
            if unknown:
                return json_response(start_response, "400 Bad Request", {"error": f"unknown settings {sorted(unknown)}"})
            auto.update(body)
            return json_response(start_response, "200 OK", auto)
        if what == "emr/step":
            step = steps.get(body.get("step_id"))
            if step is None:
                return json_response(start_response, "404 Not Found", {"error": "no such step"})
            failure = body.get("failure")
            if failure:
                failure = {"Reason": failure.get("reason"), "Message": failure.get("message"), "LogFile": failure.get("log_file")}
            set_state(step, body["state"], failure)
            return json_response(start_response, "200 OK", {"step_id": step.id, "state": step.state})
        if what == "emr/steps":
            listed = [
                {
                    "step_id": s.id,
                    "name": s.name,
                    "state": s.state,
                    "cluster_id": s.cluster_id,
                    "jar": s.jar,
                    "args": s.args,
                    "ended_at": s.end_date_time.isoformat() if s.end_date_time else None,
                }
                for s in steps.values()
            ]
            return json_response(start_response, "200 OK", listed)
        if what == "mwaa/environment":
            mwaa_environments[body["name"]] = dict(body)
            return json_response(start_response, "200 OK", {"environments": sorted(mwaa_environments)})
        if what == "s3/deny":
            ops = body.get("operations")
            denied_s3[body["bucket"]] = set(ops) if ops is not None else None
            return json_response(start_response, "200 OK", {"denied": sorted(denied_s3)})
        if what == "sts/deny":
            denied_roles.add(body["role_arn"])
            return json_response(start_response, "200 OK", {"denied": sorted(denied_roles)})
        if what == "calls":
            return json_response(start_response, "200 OK", dict(calls))
        if what == "sts/assumed":
            return json_response(start_response, "200 OK", list(assumed))
        if what == "signers":
            return json_response(start_response, "200 OK", list(signers))
    return json_response(start_response, "404 Not Found", {"error": f"unknown control {what}"})


def make_cluster(environ, region):
    """An EMR cluster waiting for steps, made through the emulator's own API."""
    import boto3

    host = environ.get("HTTP_HOST", "127.0.0.1")
    emr = boto3.client(
        "emr",
        endpoint_url=f"http://{host}",
        region_name=region,
        aws_access_key_id="AKIAEMULATORTESTKEY1",
        aws_secret_access_key="emulator-secret",
    )
    out = emr.run_job_flow(
        Name="trellis-e2e",
        ReleaseLabel="emr-7.0.0",
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
    )
    return out["JobFlowId"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = application(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
