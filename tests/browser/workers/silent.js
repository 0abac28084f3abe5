// A worker script that forgets to call createTaskWorker().
self.addEventListener('message', () => {});
