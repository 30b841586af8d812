"""pipemu: the import name of pipeline-emulator's public helpers (`pipemu.testing`)."""
