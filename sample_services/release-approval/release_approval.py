"""The product releasing Lambda: approve one stage of every service pipeline of a product.

Invoked by the product's releasing pipeline with UserParameters JSON
{"product": "my", "stage": "StagingDEV", "action": "approve"}: it lists all pipelines (following
nextToken), keeps those whose name starts with "<product>-" and that are not the releasing
pipeline itself, and approves the action wherever it waits (InProgress). It never rejects: a bad
commit is rejected in its own service pipeline. Written against boto3 only, so the same file
runs on AWS Lambda.
"""

import json

import boto3

codepipeline = boto3.client("codepipeline")


def service_pipelines(product, releasing):
    names, token = [], None
    while True:
        page = codepipeline.list_pipelines(**({"nextToken": token} if token else {}))
        names += [p["name"] for p in page["pipelines"]]
        token = page.get("nextToken")
        if not token:
            break
    return [n for n in names if n.startswith(product + "-") and n != releasing]


def waiting_token(pipeline, stage, action):
    state = codepipeline.get_pipeline_state(name=pipeline)
    for stage_state in state["stageStates"]:
        if stage_state["stageName"] != stage:
            continue
        for action_state in stage_state["actionStates"]:
            latest = action_state.get("latestExecution", {})
            if action_state["actionName"] == action and latest.get("status") == "InProgress":
                return latest.get("token")
    return None


def handler(event, context):
    job = event["CodePipeline.job"]
    releasing = job["data"]["pipelineContext"]["pipelineName"]
    try:
        params = json.loads(job["data"]["actionConfiguration"]["configuration"]["UserParameters"])
        approved = []
        for pipeline in service_pipelines(params["product"], releasing):
            token = waiting_token(pipeline, params["stage"], params["action"])
            if token is None:
                print(f"{pipeline}: nothing waits at {params['stage']}.{params['action']}")
                continue
            codepipeline.put_approval_result(
                pipelineName=pipeline, stageName=params["stage"], actionName=params["action"],
                result={"summary": f"Released by {releasing}", "status": "Approved"}, token=token,
            )
            print(f"{pipeline}: approved {params['stage']}.{params['action']}")
            approved.append(pipeline)
        codepipeline.put_job_success_result(
            jobId=job["id"],
            outputVariables={"approved": ",".join(approved) or "-", "count": str(len(approved))},
        )
        return {"approved": approved}
    except Exception as error:
        codepipeline.put_job_failure_result(
            jobId=job["id"], failureDetails={"type": "JobFailed", "message": str(error)[:5000]}
        )
        raise
