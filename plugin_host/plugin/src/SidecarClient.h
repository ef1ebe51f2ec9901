// Sidecar client: one UDP socket that sends OSC to the sidecar and receives its replies.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include <juce_osc/juce_osc.h>

namespace mgs {

class SidecarClient : private juce::OSCReceiver::Listener<juce::OSCReceiver::RealtimeCallback> {
public:
    /// `onMessage` runs on the receiver's own thread (never the audio or message thread).
    explicit SidecarClient(std::function<void(const juce::OSCMessage&)> onMessage);
    ~SidecarClient() override;

    /// Bind the socket (once) and aim the sender at host:port. False with `error` set.
    bool connect(const juce::String& host, int port, juce::String& error);
    /// Send `address` with `arguments`, plus `token <token>` when a token is set.
    bool send(const juce::String& address, const juce::Array<juce::OSCArgument>& arguments);
    void setToken(const juce::String& token);
    int localPort() const;
    /// Stop receiving (no more callbacks once this returns) and close the socket.
    void close();

private:
    void oscMessageReceived(const juce::OSCMessage& message) override;

    std::function<void(const juce::OSCMessage&)> onMessage_;
    std::unique_ptr<juce::DatagramSocket> socket_;
    juce::OSCSender sender_;
    juce::OSCReceiver receiver_{"MusicGenSidecar OSC"};
    mutable std::mutex mutex_;
    juce::String token_;
    bool senderConnected_ = false;
};

}  // namespace mgs
