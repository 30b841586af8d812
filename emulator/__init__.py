"""pipeline-emulator: a self-hosted, offline twin of AWS CodePipeline."""

__version__ = "0.1.0"
