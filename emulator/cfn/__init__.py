"""CloudFormation, written once: reading templates (template.py), converting scalars to each
property's declared type (types.py), evaluating a template as one stack (evaluate.py), planning
and recording deploys (deploy.py, store.py).

Import (`pipemu import`, templates in the pipelines folder), export and the Deploy action all
use these modules. The package knows nothing of Docker, of the engine or of the definitions'
models; it needs only yamlpos (positions in YAML) besides PyYAML and cfn-lint's schemas.
"""
