"""Imported once by the fork server that starts ``convert --jobs`` workers: every installed reader and
exporter is loaded there, so each worker forks with them ready instead of loading them again."""

from trialport import plugins

plugins.readers()
plugins.exporters()
