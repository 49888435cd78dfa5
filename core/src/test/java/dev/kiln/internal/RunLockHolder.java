package dev.kiln.internal;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** Child process for {@link RunLockTest}: takes the lock, says so, and holds it until killed. */
public final class RunLockHolder {

  private RunLockHolder() {}

  public static void main(String[] args) throws Exception {
    RunLock lock = RunLock.acquire(Path.of(args[0]));
    System.out.println("locked");
    System.out.flush();
    new CountDownLatch(1).await(); // parks until the test kills this process
    lock.close();
  }
}
