// The timed readers of `nordiq bench`: a keep-alive HTTP/1.1 GET client on a loopback port that
// counts each body as it arrives and keeps none of it, as `curl -o /dev/null` does, so the time it
// measures is the daemon's and the loopback's.
//
// Why not cpp-httplib's client: it appends a body into a fresh std::string that doubles as it
// grows, through 4 KiB reads (its compiled-in buffer). For a 15 MB body that is ~7,000 page faults,
// ~30 MB of copying and ~3,700 reads per response, on the same two cores as the daemon: with 4
// clients it read 500 servers' predictions in 40-60 ms where 4 curl clients take ~20 ms.
//
// It speaks only what the daemon's GET answers use: a body with Content-Length, or none (304, 1xx
// and 204 have none). Anything else (chunked, a closed connection, no length) throws, naming it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace nordiq::bench {

class GetReader {
 public:
  struct Answer {
    int status = 0;
    size_t bytes = 0;   // the body's length as received (compressed if the daemon gzipped it)
    std::string etag;   // the ETag header, if any
  };

  // Connects to 127.0.0.1:port; throws std::runtime_error if it cannot. A response that closes the
  // connection (the daemon's keep-alive limit) makes the next get() connect again, in its time.
  explicit GetReader(int port);
  ~GetReader();
  GetReader(const GetReader&) = delete;
  GetReader& operator=(const GetReader&) = delete;

  // GET `path` with the extra request headers; returns when the whole body has arrived.
  Answer get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  void connect();
  size_t fill();                      // one recv() into the buffer after what it holds; 0 = closed
  std::string read_head();            // the response head, up to its blank line (consumed)
  void skip_body(size_t length);      // drops `length` body bytes, buffered ones first

  int port_;
  int fd_ = -1;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;        // buf_[begin_, end_) is received and not yet consumed
};

}  // namespace nordiq::bench
