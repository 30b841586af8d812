"""EventBridge's pattern language, table by table from the user guide's examples ("Event
patterns", "Content filtering", "Comparison operators"), and the patterns it refuses."""

from __future__ import annotations

import pytest

from emulator.events.patterns import InvalidEventPattern, matches, parse

# An EC2 state-change event in the shape of the user guide's, with a few fields added for the
# content-filtering examples.
EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5, "d-count": 3, "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "FileName": "photo.PNG",
        "FilePath": "/usr/lib/python",
        "service": "EventBridge",
        "eventVersion": "",
        "responseElements": None,
        "location": {"city": "Seattle"},
        "tags": ["prod", "web"],
    },
}

MATCHES = [
    ({"source": ["aws.ec2"]}, True),
    ({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}, True),
    ({"source": ["aws.s3"]}, False),
    ({"detail": {"state": ["running", "terminated"]}}, True),
    ({"detail": {"tags": ["web"]}}, True),  # an array value matches when any element does
    ({"detail": {"tags": ["db"]}}, False),
    ({"time": [{"prefix": "2017-12-22"}]}, True),
    ({"time": [{"prefix": "2017-10-02"}]}, False),
    ({"detail": {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}}, True),
    ({"detail": {"FileName": [{"suffix": ".png"}]}}, False),
    ({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}, True),
    ({"detail": {"state": [{"anything-but": "initializing"}]}}, True),
    ({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, False),
    ({"detail": {"x-limit": [{"anything-but": 123}]}}, True),
    ({"region": [{"anything-but": {"prefix": "us-"}}]}, False),
    ({"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}}, True),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}}, False),
    ({"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}}, False),
    ({"detail": {"missing": [{"anything-but": "x"}]}}, False),  # never matches a field that is not there
    ({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}],
                 "x-limit": [{"numeric": ["=", 3.018e2]}]}}, True),
    ({"detail": {"c-count": [{"numeric": [">", 5]}]}}, False),
    ({"detail": {"state": [{"numeric": [">", 0]}]}}, False),  # a string is no number
    ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
    ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, False),
    ({"detail": {"state": [{"exists": True}]}}, True),
    ({"detail": {"state": [{"exists": False}]}}, False),
    ({"detail": {"missing": [{"exists": False}]}}, True),
    ({"detail": {"missing": [{"exists": True}]}}, False),
    ({"detail": {"location": [{"exists": True}]}}, False),  # exists works on leaves only
    ({"detail": {"eventVersion": [""], "responseElements": [None]}}, True),
    ({"detail": {"responseElements": [""]}}, False),  # null is not the empty string
    ({"detail": {"state": [{"equals-ignore-case": "TERMINATED"}]}}, True),
    ({"resources": [{"wildcard": "arn:aws:ec2:*:123456789012:instance/*"}]}, True),
    ({"resources": [{"wildcard": "arn:aws:s3:::*"}]}, False),
    ({"detail": {"location": {"city": ["Seattle"]}}}, True),
    ({"detail": {"location": {"city": ["Portland"]}}}, False),
    ({"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"d-count": [{"numeric": ["<", 10]}]}]}}, True),
    ({"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"state": ["running"]}]}}, False),
    ({"source": ["aws.ec2"], "$or": [{"region": ["eu-west-1"]}, {"detail": {"state": ["terminated"]}}]}, True),
]


@pytest.mark.parametrize("pattern, expected", MATCHES, ids=[str(i) for i in range(len(MATCHES))])
def test_documented_examples(pattern, expected):
    assert matches(parse(pattern), EVENT) is expected


CODEPIPELINE_FAILED_DEPLOY = {
    "version": "0", "id": "1", "detail-type": "CodePipeline Action Execution State Change",
    "source": "aws.codepipeline", "account": "123456789012", "time": "2026-11-30T10:00:00Z", "region": "us-east-1",
    "resources": ["arn:aws:codepipeline:us-east-1:123456789012:myPipeline"],
    "detail": {"pipeline": "myPipeline", "state": "FAILED", "version": 1.0,
               "type": {"owner": "AWS", "category": "Deploy", "provider": "CodeDeploy", "version": "1"}},
}


def test_the_codepipeline_user_guide_patterns():
    failed_builds_or_deploys = {"source": ["aws.codepipeline"], "detail-type": ["CodePipeline Action Execution State Change"],
                                "detail": {"state": ["FAILED"], "type": {"category": ["Deploy", "Build"]}}}
    approvals = {"source": ["aws.codepipeline"], "detail-type": ["CodePipeline Action Execution State Change"],
                 "detail": {"state": ["FAILED"], "type": {"category": ["Approval"]}}}
    these_pipelines = {"source": ["aws.codepipeline"], "detail": {"pipeline": ["myPipeline", "my2ndPipeline"]}}
    assert matches(parse(failed_builds_or_deploys), CODEPIPELINE_FAILED_DEPLOY)
    assert not matches(parse(approvals), CODEPIPELINE_FAILED_DEPLOY)
    assert matches(parse(these_pipelines), CODEPIPELINE_FAILED_DEPLOY)
    assert matches(parse('{"detail": {"version": [{"numeric": ["=", 1]}]}}'), CODEPIPELINE_FAILED_DEPLOY)


INVALID = [
    ("[]", "Filter is not an object"),
    ('{"source": "aws.ec2"}', "must be an object or an array"),
    ('{"source": []}', "Empty arrays are not allowed"),
    ("{}", "Empty objects are not allowed"),
    ('{"source": [{"prefix": 5}]}', "prefix match pattern must be a string"),
    ('{"source": [{"contains": "x"}]}', "Unrecognized match type contains"),
    ('{"a": [{"numeric": [">", "five"]}]}', "Value of > must be numeric"),
    ('{"a": [{"numeric": ["~", 5]}]}', "Unrecognized numeric range operator"),
    ('{"a": [{"numeric": [">", 10, "<", 5]}]}', "Bottom must be less than top"),
    ('{"a": [{"numeric": [">", 6e9]}]}', "between -5.0E9 and 5.0E9"),
    ('{"a": [{"exists": "yes"}]}', "exists match pattern must be either true or false"),
    ('{"a": [{"wildcard": "a**b"}]}', "Consecutive wildcard characters"),
    ('{"a": [{"cidr": "10.0.0.300/24"}]}', "Nonstandard IP address"),
    ('{"a": [{"anything-but": {"contains": "x"}}]}', "Unsupported anything-but pattern"),
    ('{"$or": [{"a": ["b"]}]}', "$or must be an array of at least 2 objects"),
    ('{"a": [{"prefix": "x", "suffix": "y"}]}', "exactly one match type"),
    ('{"source": ["aws.ec2"', "Filter is not valid JSON"),
]


@pytest.mark.parametrize("text, reason", INVALID, ids=[r for _, r in INVALID])
def test_patterns_aws_refuses(text, reason):
    with pytest.raises(InvalidEventPattern) as raised:
        parse(text)
    assert reason in str(raised.value)
    assert str(raised.value).startswith("Event pattern is not valid. Reason: ")


def test_an_error_says_where_in_the_pattern():
    with pytest.raises(InvalidEventPattern) as raised:
        parse({"detail": {"state": ["FAILED", {"prefix": 1}]}})
    assert raised.value.path == "detail.state[1]"
