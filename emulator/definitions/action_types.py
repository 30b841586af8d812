"""AWS's action types, as the CodePipeline user guide's action structure reference lists them,
and which of them pipemu carries out.

Every action type AWS offers is accepted (a declaration AWS accepts loads here). An emulated type
is checked as AWS checks it (required and known configuration keys, artifact counts) and runs
in a container; a type pipemu does not emulate yet is accepted with a warning naming it and, at
run time, recorded (see emulator/runner/providers.py: `_not_emulated`). A provider AWS does not
list either (a custom action type, a partner's, one AWS added since) is accepted with a warning
too: refusing it would refuse what AWS may accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ActionTypeSpec:
    """What an action type requires: configuration keys, artifact counts, which configuration
    keys name a resource stood in for in the pipelines folder (key -> section), and whether
    pipemu carries it out (`emulated`) or only accepts and records it."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    inputs: tuple[int, int] = (0, 0)
    outputs: tuple[int, int] = (0, 0)
    resources: dict[str, str] = field(default_factory=dict)
    emulated: bool = True
    v2_only: bool = False
    # Configuration keys AWS keeps secret: GetPipeline shows them as "****" (and so do we; the
    # value is never stored here, since no stand-in needs it).
    secrets: tuple[str, ...] = ()


_CODEBUILD = ActionTypeSpec(
    required=("ProjectName",),
    optional=("PrimarySource", "BatchEnabled", "CombineArtifacts", "EnvironmentVariables"),
    inputs=(1, 5),
    outputs=(0, 5),
    resources={"ProjectName": "projects"},
)


def _recorded(*required: str, optional: tuple[str, ...] = (), inputs=(0, 10), outputs=(0, 5), v2_only=False) -> ActionTypeSpec:
    return ActionTypeSpec(required, optional, inputs, outputs, emulated=False, v2_only=v2_only)


# (category, owner, provider) -> spec. Supporting another action type is one entry here and a
# provider in emulator/runner/providers.py.
ACTION_TYPES: dict[tuple[str, str, str], ActionTypeSpec] = {
    ("Source", "AWS", "CodeCommit"): ActionTypeSpec(
        required=("RepositoryName", "BranchName"),
        optional=("PollForSourceChanges", "OutputArtifactFormat"),
        outputs=(1, 1),
        resources={"RepositoryName": "repositories"},
    ),
    ("Source", "AWS", "CodeStarSourceConnection"): ActionTypeSpec(
        required=("ConnectionArn", "FullRepositoryId", "BranchName"),
        optional=("OutputArtifactFormat", "DetectChanges"),
        outputs=(1, 1),
        resources={"FullRepositoryId": "repositories"},
    ),
    # GitHub (version 1, OAuth): deprecated by AWS yet everywhere in real templates. Stood in
    # for by a local repository named `Owner/Repo`, like a connection's FullRepositoryId.
    ("Source", "ThirdParty", "GitHub"): ActionTypeSpec(
        required=("Owner", "Repo", "Branch", "OAuthToken"),
        optional=("PollForSourceChanges",),
        outputs=(1, 1),
        secrets=("OAuthToken",),
    ),
    ("Source", "AWS", "S3"): ActionTypeSpec(
        required=("S3Bucket", "S3ObjectKey"),
        optional=("PollForSourceChanges", "AllowOverrideForS3ObjectKey"),
        outputs=(1, 1),
        resources={"S3Bucket": "buckets"},
    ),
    ("Source", "AWS", "ECR"): _recorded("RepositoryName", optional=("ImageTag",), inputs=(0, 0), outputs=(1, 1)),
    ("Build", "AWS", "CodeBuild"): _CODEBUILD,
    ("Test", "AWS", "CodeBuild"): _CODEBUILD,
    ("Build", "AWS", "ECRBuildAndPublish"): _recorded(
        "ECRRepositoryName", optional=("DockerFilePath", "ImageTags", "RegistryType"), inputs=(1, 1), outputs=(0, 0),
        v2_only=True),
    ("Test", "AWS", "DeviceFarm"): _recorded("ProjectId", "DevicePoolArn", "AppType", optional=(
        "App", "TestType", "Test", "RadioBluetoothEnabled", "RecordAppPerformanceData", "RecordVideo",
        "RadioWifiEnabled", "RadioNfcEnabled", "RadioGpsEnabled", "FuzzEventCount", "FuzzEventThrottle",
        "FuzzRandomizerSeed", "CustomHostMachineArtifacts", "CustomDeviceArtifacts", "JobTimeoutMinutes", "Latitude",
        "Longitude")),
    ("Invoke", "AWS", "InspectorScan"): _recorded("InspectorRunMode", optional=(
        "ECRRepositoryName", "ImageTag", "CriticalThreshold", "HighThreshold", "MediumThreshold", "LowThreshold")),
    ("Deploy", "AWS", "CloudFormation"): ActionTypeSpec(
        required=("ActionMode", "StackName"),
        optional=("TemplatePath", "Capabilities", "RoleArn", "ParameterOverrides", "TemplateConfiguration",
                  "OutputFileName", "ChangeSetName"),
        inputs=(0, 10),
        outputs=(0, 1),
        # No resource check: a stack not in `stacks:` is validated from its template and recorded.
    ),
    ("Deploy", "AWS", "CloudFormationStackSet"): _recorded("StackSetName", "TemplatePath", optional=(
        "Description", "DeploymentTargets", "Regions", "Capabilities", "Parameters", "PermissionModel",
        "AdministrationRoleArn", "ExecutionRoleName", "OrganizationsAutoDeployment", "FailureTolerancePercentage",
        "FailureToleranceCount", "MaxConcurrentPercentage", "MaxConcurrentCount", "ConcurrencyMode")),
    ("Deploy", "AWS", "CloudFormationStackInstances"): _recorded("StackSetName", optional=(
        "DeploymentTargets", "Regions", "ParameterOverrides", "FailureTolerancePercentage", "FailureToleranceCount",
        "MaxConcurrentPercentage", "MaxConcurrentCount", "ConcurrencyMode")),
    ("Deploy", "AWS", "CodeDeploy"): _recorded("ApplicationName", "DeploymentGroupName", inputs=(1, 1), outputs=(0, 0)),
    # Stood in for by a service of `clusters:` run as containers (emulator/runner/ecs_deploy.py).
    ("Deploy", "AWS", "ECS"): ActionTypeSpec(
        required=("ClusterName", "ServiceName"),
        optional=("FileName", "DeploymentTimeout"),
        inputs=(1, 1),
        outputs=(0, 0),
        resources={"ClusterName": "clusters"},
    ),
    ("Deploy", "AWS", "CodeDeployToECS"): _recorded(
        "ApplicationName", "DeploymentGroupName", "TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact",
        optional=("TaskDefinitionTemplatePath", "AppSpecTemplatePath", "Image1ArtifactName", "Image1ContainerName",
                  "Image2ArtifactName", "Image2ContainerName", "Image3ArtifactName", "Image3ContainerName",
                  "Image4ArtifactName", "Image4ContainerName"), inputs=(1, 5), outputs=(0, 0)),
    # Writes to the folder of a `buckets:` stand-in, as the S3 source reads it (runner/s3_deploy.py).
    ("Deploy", "AWS", "S3"): ActionTypeSpec(
        required=("BucketName", "Extract"),
        optional=("ObjectKey", "KMSEncryptionKeyARN", "CannedACL", "CacheControl"),
        inputs=(1, 1),
        outputs=(0, 0),
        resources={"BucketName": "buckets"},
    ),
    ("Deploy", "AWS", "ElasticBeanstalk"): _recorded("ApplicationName", "EnvironmentName", inputs=(1, 1), outputs=(0, 0)),
    ("Deploy", "AWS", "OpsWorks"): _recorded("Stack", optional=("App", "Layer", "DeploymentType")),
    ("Deploy", "AWS", "ServiceCatalog"): _recorded("TemplateFilePath", "ProductVersionName", "ProductType", "ProductId",
                                                   optional=("ProductVersionDescription", "ConfigurationFilePath")),
    ("Deploy", "AWS", "AppConfig"): _recorded("Application", "Environment", "ConfigurationProfile", "InputArtifactConfigurationPath",
                                              "DeploymentStrategy"),
    ("Deploy", "AWS", "EC2"): _recorded("InstanceTagKey", "InstanceType", optional=(
        "InstanceTagValue", "TargetDirectory", "MaxBatch", "MaxError", "TargetGroupNameList", "PreScript", "PostScript"),
        v2_only=True),
    ("Deploy", "AWS", "EKS"): _recorded("ClusterName", optional=(
        "ManifestFiles", "HelmReleaseName", "HelmChartLocation", "HelmValuesFiles", "Namespace", "SubnetIds",
        "SecurityGroupIds"), v2_only=True),
    ("Deploy", "AWS", "Lambda"): _recorded("FunctionName", optional=("FunctionAlias", "DeployStrategy", "Alarms"), v2_only=True),
    ("Deploy", "ThirdParty", "AlexaSkillsKit"): ActionTypeSpec(("ClientId", "ClientSecret", "RefreshToken", "SkillId"),
                                                               inputs=(0, 2), emulated=False,
                                                               secrets=("ClientSecret", "RefreshToken")),
    ("Invoke", "AWS", "Lambda"): ActionTypeSpec(
        required=("FunctionName",),
        optional=("UserParameters",),
        inputs=(0, 5),
        outputs=(0, 5),
        resources={"FunctionName": "functions"},
    ),
    # The CodePipeline invoke action starts another pipeline of this daemon (runner/pipeline_invoke.py).
    # AWS's reference lists no artifacts for it.
    ("Invoke", "AWS", "CodePipeline"): ActionTypeSpec(
        required=("PipelineName",),
        optional=("SourceRevisions", "Variables"),
        v2_only=True,
    ),
    ("Invoke", "AWS", "StepFunctions"): _recorded("StateMachineArn", optional=(
        "ExecutionNamePrefix", "InputType", "Input")),
    ("Approval", "AWS", "Manual"): ActionTypeSpec(optional=("CustomData", "ExternalEntityLink", "NotificationArn")),
    # V2's Commands action (the user guide's "Commands action reference"): `commands`,
    # `outputVariables`, `environmentVariables` and the output artifact's `files` sit on the
    # action itself; its configuration keys are all optional. Run by emulator/runner/commands_action.py.
    ("Compute", "AWS", "Commands"): ActionTypeSpec(
        optional=("EnvironmentType", "ComputeType", "VpcId", "Subnets", "SecurityGroupIds"),
        inputs=(1, 10),
        outputs=(0, 1),
        v2_only=True,
    ),
}

# What the action types above still lack here, for the warnings (`not_carried_out`).
UNSUPPORTED_CONFIGURATION = {
    ("Build", "AWS", "CodeBuild"): {"BatchEnabled": "batch builds run as one build",
                                    "CombineArtifacts": "batch builds run as one build"},
    ("Test", "AWS", "CodeBuild"): {"BatchEnabled": "batch builds run as one build",
                                   "CombineArtifacts": "batch builds run as one build"},
    ("Deploy", "AWS", "S3"): {
        "KMSEncryptionKeyARN": "objects are written unencrypted to the bucket's folder",
        "CannedACL": "a bucket folder has no ACLs",
        "CacheControl": "a bucket folder keeps no object metadata",
    },
    ("Compute", "AWS", "Commands"): {key: "there is no VPC here: the commands run on the stage's network"
                                     for key in ("VpcId", "Subnets", "SecurityGroupIds")},
}


def action_type(category: str, owner: str, provider: str) -> ActionTypeSpec | None:
    return ACTION_TYPES.get((category, owner, provider))


def emulated(key: tuple[str, str, str]) -> bool:
    spec = ACTION_TYPES.get(key)
    return spec is not None and spec.emulated


def git_source(provider: str, configuration: dict[str, str]) -> tuple[str, str, str] | None:
    """(repository stand-in name, branch, the key that turns change detection off) of a source
    action that reads a git repository; None for other actions or an incomplete configuration."""
    config = configuration
    if provider == "CodeCommit":
        found = (config.get("RepositoryName"), config.get("BranchName"), "PollForSourceChanges")
    elif provider == "CodeStarSourceConnection":
        found = (config.get("FullRepositoryId"), config.get("BranchName"), "DetectChanges")
    elif provider == "GitHub" and config.get("Owner") is not None and config.get("Repo") is not None:
        found = (f"{config['Owner']}/{config['Repo']}", config.get("Branch"), "PollForSourceChanges")
    else:
        return None
    return found if found[0] is not None and found[1] is not None else None


MASK = "****"


def masked(declaration: dict) -> dict:
    """The declaration (get-pipeline form) with the secret configuration values AWS hides
    replaced by "****", as AWS answers them."""
    for stage in declaration.get("stages") or ():
        for action in stage.get("actions") or ():
            type_id = action.get("actionTypeId") or {}
            spec = ACTION_TYPES.get((type_id.get("category"), type_id.get("owner"), type_id.get("provider")))
            configuration = action.get("configuration")
            for key in spec.secrets if spec and configuration else ():
                if key in configuration:
                    configuration[key] = MASK
    return declaration
