// Settings: the sidecar address, token and request options, saved with the project, env-overridable.
#pragma once

#include <juce_core/juce_core.h>

namespace mgs {

struct PluginSettings {
    juce::String host = "127.0.0.1";
    int port = 9310;
    juce::String token;  ///< typed in the window (saved); an env token is never saved
    juce::String preset;
    juce::String prompt;
    juce::int64 seed = -1;  ///< −1: the sidecar picks one
    juce::String key;
    juce::String captureDir;  ///< empty: the default folder

    /// These settings with any MUSICGEN_SIDECAR_* environment overrides applied.
    PluginSettings effective() const;
    /// The folder capture WAVs go to (not created here).
    juce::File captureFolder() const;

    juce::XmlElement* writeTo(juce::XmlElement& parent) const;
    static PluginSettings readFrom(const juce::XmlElement* element);

    bool operator==(const PluginSettings& other) const;
    bool operator!=(const PluginSettings& other) const { return !(*this == other); }
};

/// A non-empty environment variable, or an empty string.
juce::String environment(const char* name);
/// A number from the environment, or `fallback` when unset or unparsable.
double environmentSeconds(const char* name, double fallback);
/// The default capture folder for this platform.
juce::File defaultCaptureFolder();

}  // namespace mgs
