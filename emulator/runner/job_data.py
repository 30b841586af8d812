"""The job a Lambda invoke action hands its function: CodePipeline's JobData shape.

One function builds it for both places that show it: the event the function is invoked with
(`{"CodePipeline.job": {...}}`) and GetJobDetails.
"""

from __future__ import annotations

ACCOUNT_ID = "123456789012"
ARTIFACT_BUCKET = "pipemu-artifacts"


def _artifact(name: str, location: str | None) -> dict:
    artifact = {"name": name, "location": {"type": "S3"}}
    if location:
        artifact["location"]["s3Location"] = {"bucketName": ARTIFACT_BUCKET, "objectKey": location}
    return artifact


def job_data(
    *,
    region: str,
    pipeline: str,
    execution_id: str,
    stage: str,
    action: str,
    action_execution_id: str,
    action_type: dict,
    configuration: dict[str, str],
    inputs: list[tuple[str, str]],
    outputs: list[str],
    execution_outputs_prefix: str,
    continuation_token: str | None,
) -> dict:
    """JobData as botocore's model has it (the artifacts' S3 locations name our state folder)."""
    data = {
        "actionTypeId": action_type,
        "actionConfiguration": {"configuration": dict(configuration)},
        "pipelineContext": {
            "pipelineName": pipeline,
            "stage": {"name": stage},
            "action": {"name": action, "actionExecutionId": action_execution_id},
            "pipelineArn": f"arn:aws:codepipeline:{region}:{ACCOUNT_ID}:{pipeline}",
            "pipelineExecutionId": execution_id,
        },
        "inputArtifacts": [_artifact(name, location) for name, location in inputs],
        "outputArtifacts": [_artifact(name, f"{execution_outputs_prefix}/{name}") for name in outputs],
        # Dummy credentials: the function's SDK signs with them and the daemon accepts them.
        "artifactCredentials": {"accessKeyId": "pipemu", "secretAccessKey": "pipemu", "sessionToken": "pipemu"},
    }
    if continuation_token is not None:
        data["continuationToken"] = continuation_token
    return data


def lambda_event(job_id: str, data: dict) -> dict:
    """The event AWS invokes a CodePipeline Lambda with."""
    return {"CodePipeline.job": {"id": job_id, "accountId": ACCOUNT_ID, "data": data}}


def action_job_data(command, region: str) -> dict:
    """The JobData of the action a RunAction command runs (a Lambda invoke, in a container or in
    process): its configuration, input artifacts, output artifacts and continuation token."""
    return job_data(
        region=region, pipeline=command.pipeline, execution_id=command.execution_id, stage=command.stage,
        action=command.action.name, action_execution_id=command.action_execution_id,
        action_type={"category": command.action.category, "owner": command.action.owner,
                     "provider": command.action.provider, "version": command.action.version},
        configuration=dict(command.configuration), inputs=[(a.name, a.location) for a in command.inputs],
        outputs=list(command.action.output_artifacts), execution_outputs_prefix=f"artifacts/{command.execution_id}",
        continuation_token=command.continuation_token,
    )
