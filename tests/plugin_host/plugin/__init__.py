"""Tests of the VST3/LV2 plugin in real hosts: DawDreamer, Ardour, jalv and the test host."""
