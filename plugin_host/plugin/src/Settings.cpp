// Settings: the sidecar address, token and request options, saved with the project, env-overridable.
#include "Settings.h"

#include <cstdlib>

namespace mgs {

juce::String environment(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? juce::String() : juce::String::fromUTF8(value).trim();
}

double environmentSeconds(const char* name, double fallback) {
    const juce::String text = environment(name);
    if (text.isEmpty()) return fallback;
    const double value = text.getDoubleValue();
    return value > 0.0 ? value : fallback;
}

juce::File defaultCaptureFolder() {
#if JUCE_LINUX || JUCE_BSD
    const juce::String xdg = environment("XDG_DATA_HOME");
    const juce::File base = xdg.isNotEmpty() && juce::File::isAbsolutePath(xdg)
                                ? juce::File(xdg)
                                : juce::File::getSpecialLocation(juce::File::userHomeDirectory)
                                      .getChildFile(".local/share");
    return base.getChildFile("musicgen-sidecar/plugin-captures");
#else
    return juce::File::getSpecialLocation(juce::File::userApplicationDataDirectory)
        .getChildFile("musicgen-sidecar")
        .getChildFile("plugin-captures");
#endif
}

PluginSettings PluginSettings::effective() const {
    PluginSettings s = *this;
    if (auto v = environment("MUSICGEN_SIDECAR_HOST"); v.isNotEmpty()) s.host = v;
    if (auto v = environment("MUSICGEN_SIDECAR_PORT"); v.isNotEmpty() && v.getIntValue() > 0)
        s.port = v.getIntValue();
    if (auto v = environment("MUSICGEN_SIDECAR_TOKEN"); v.isNotEmpty())
        s.token = v;
    else if (auto w = environment("SIDECAR_TOKEN"); w.isNotEmpty() && s.token.isEmpty())
        s.token = w;
    if (auto v = environment("MUSICGEN_SIDECAR_PRESET"); v.isNotEmpty()) s.preset = v;
    if (auto v = environment("MUSICGEN_SIDECAR_PROMPT"); v.isNotEmpty()) s.prompt = v;
    if (auto v = environment("MUSICGEN_SIDECAR_SEED"); v.isNotEmpty()) s.seed = v.getLargeIntValue();
    if (auto v = environment("MUSICGEN_SIDECAR_KEY"); v.isNotEmpty()) s.key = v;
    if (auto v = environment("MUSICGEN_SIDECAR_CAPTURE_DIR"); v.isNotEmpty()) s.captureDir = v;
    return s;
}

juce::File PluginSettings::captureFolder() const {
    if (captureDir.isNotEmpty() && juce::File::isAbsolutePath(captureDir)) return juce::File(captureDir);
    return defaultCaptureFolder();
}

juce::XmlElement* PluginSettings::writeTo(juce::XmlElement& parent) const {
    auto* e = parent.createNewChildElement("Settings");
    e->setAttribute("host", host);
    e->setAttribute("port", port);
    e->setAttribute("token", token);
    e->setAttribute("preset", preset);
    e->setAttribute("prompt", prompt);
    e->setAttribute("seed", juce::String(seed));
    e->setAttribute("key", key);
    e->setAttribute("capture_dir", captureDir);
    return e;
}

PluginSettings PluginSettings::readFrom(const juce::XmlElement* e) {
    PluginSettings s;
    if (e == nullptr) return s;
    s.host = e->getStringAttribute("host", s.host);
    s.port = e->getIntAttribute("port", s.port);
    s.token = e->getStringAttribute("token");
    s.preset = e->getStringAttribute("preset");
    s.prompt = e->getStringAttribute("prompt");
    s.seed = e->getStringAttribute("seed", "-1").getLargeIntValue();
    s.key = e->getStringAttribute("key");
    s.captureDir = e->getStringAttribute("capture_dir");
    return s;
}

bool PluginSettings::operator==(const PluginSettings& o) const {
    return host == o.host && port == o.port && token == o.token && preset == o.preset &&
           prompt == o.prompt && seed == o.seed && key == o.key && captureDir == o.captureDir;
}

}  // namespace mgs
