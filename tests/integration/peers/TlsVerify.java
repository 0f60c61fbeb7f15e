// TlsVerify: the JDK's TLS client (SunJSSE and its PKIX validator) with
// its defaults, trusting only the certificates in CAFILE: connects to
// 127.0.0.1:PORT with SNI NAME, checks the name as HTTPS clients do, and
// prints "OK", or "FAIL: " and the JDK's own message (exit 1). Usage
// errors exit 2.
import java.io.FileInputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TlsVerify {
	public static void main(String[] args) throws Exception {
		if (args.length != 3) {
			System.err.println("usage: TlsVerify PORT NAME CAFILE");
			System.exit(2);
		}
		KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
		ks.load(null, null);
		int i = 0;
		try (FileInputStream in = new FileInputStream(args[2])) {
			for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in))
				ks.setCertificateEntry("ca" + i++, c);
		}
		TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
		tmf.init(ks);
		SSLContext ctx = SSLContext.getInstance("TLS");
		ctx.init(null, tmf.getTrustManagers(), null);
		try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket()) {
			/* The name without a lookup: the JDK checks the peer's host name too. */
			InetAddress addr = InetAddress.getByAddress(args[1], new byte[] {127, 0, 0, 1});
			s.connect(new InetSocketAddress(addr, Integer.parseInt(args[0])), 10000);
			s.setSoTimeout(10000);
			SSLParameters p = s.getSSLParameters();
			p.setServerNames(List.of(new SNIHostName(args[1])));
			p.setEndpointIdentificationAlgorithm("HTTPS");
			s.setSSLParameters(p);
			s.startHandshake();
			System.out.println("OK");
		} catch (java.io.IOException e) {
			Throwable t = e;
			while (t.getCause() != null && t.getCause() != t)
				t = t.getCause();
			System.out.println("FAIL: " + e.getMessage() + (t != e ? " | " + t.getMessage() : ""));
			System.exit(1);
		}
	}
}
