// Sidecar client: one UDP socket that sends OSC to the sidecar and receives its replies.
#include "SidecarClient.h"

namespace mgs {

SidecarClient::SidecarClient(std::function<void(const juce::OSCMessage&)> onMessage)
    : onMessage_(std::move(onMessage)) {}

SidecarClient::~SidecarClient() { close(); }

void SidecarClient::close() {
    receiver_.removeListener(this);
    receiver_.disconnect();
    std::lock_guard<std::mutex> lock(mutex_);
    sender_.disconnect();
    senderConnected_ = false;
    if (socket_ != nullptr) socket_->shutdown();
}

bool SidecarClient::connect(const juce::String& host, int port, juce::String& error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (socket_ == nullptr) {
        // One socket for both directions: the sidecar answers the port a request came from.
        auto socket = std::make_unique<juce::DatagramSocket>(false);
        if (!socket->bindToPort(0)) {
            error = "cannot open a UDP socket";
            return false;
        }
        socket_ = std::move(socket);
        receiver_.addListener(this);
        if (!receiver_.connectToSocket(*socket_)) {
            error = "cannot listen on the UDP socket";
            return false;
        }
    }
    sender_.disconnect();
    senderConnected_ = sender_.connectToSocket(*socket_, host, port);
    if (!senderConnected_) error = "cannot address " + host + ":" + juce::String(port);
    return senderConnected_;
}

bool SidecarClient::send(const juce::String& address, const juce::Array<juce::OSCArgument>& arguments) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!senderConnected_) return false;
    try {
        juce::OSCMessage message{juce::OSCAddressPattern(address)};
        for (const auto& a : arguments) message.addArgument(a);
        if (token_.isNotEmpty()) {
            message.addString("token");
            message.addString(token_);
        }
        return sender_.send(message);
    } catch (const juce::OSCException&) {
        return false;
    }
}

void SidecarClient::setToken(const juce::String& token) {
    std::lock_guard<std::mutex> lock(mutex_);
    token_ = token;
}

int SidecarClient::localPort() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return socket_ != nullptr ? socket_->getBoundPort() : -1;
}

void SidecarClient::oscMessageReceived(const juce::OSCMessage& message) { onMessage_(message); }

}  // namespace mgs
